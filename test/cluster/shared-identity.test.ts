// The identities shared per namespace (operator/identity.ts) against the control plane in a box:
// every model's scoring pods run as `lightrank-scoring` and its router as `lightrank-router`, one
// ServiceAccount/Role/RoleBinding each per namespace, written once (a second model writes none),
// each Role granting what its pods need and nothing more (asked of the API server's own
// authorizer with `kubectl auth can-i --as`); a hand-deleted one comes back; a model's
// per-model identity of earlier versions is deleted, one it does not own is left; the router
// identity goes when no model of the namespace routes with the router, the scoring one with the
// namespace's last model.
import { describe, expect, it } from 'vitest';
import {
  ROLEBINDINGS,
  ROLES,
  SERVICEACCOUNTS,
  type KubeObject,
  type ResourceRef,
} from '../../operator/runtime/kube/types.js';
import { RANKING_MODELS } from '../../operator/reconciler.js';
import { userAgentOf } from '../../operator/testing.js';
import { readAuditEvents } from '../harness/audit.js';
import { clusterInfo, waitFor } from '../harness/cluster.js';
import { condition, kubectl, rolloutSpec, useRolloutFixture } from './rollout-helpers.js';

const fx = useRolloutFixture('shared-identity');
const ns = fx.ns;
const KINDS: ResourceRef[] = [SERVICEACCOUNTS, ROLES, ROLEBINDINGS];

const present = async (ref: ResourceRef, name: string): Promise<KubeObject | undefined> =>
  fx.models.client.get(ref, ns.name, name).catch((err: unknown) => {
    if (/404|not ?found/i.test(String(err))) return undefined;
    throw err;
  });
const presentAll = async (name: string) => Promise.all(KINDS.map((ref) => present(ref, name)));
/** `kubectl auth can-i` as a ServiceAccount of the namespace: its exit status is 1 for "no". */
const can = async (sa: string, verb: string, resource: string): Promise<boolean> => {
  const out = await kubectl(
    'auth',
    'can-i',
    verb,
    resource,
    '-n',
    ns.name,
    '--as',
    `system:serviceaccount:${ns.name}:${sa}`,
  ).catch((err: { stdout?: string }) => err.stdout ?? '');
  return out.trim() === 'yes';
};
const podSpec = async (deployment: string) =>
  (
    (await fx.models.deployment(deployment))?.spec as
      { template: { spec: { serviceAccountName?: string } } } | undefined
  )?.template.spec;
const identityWrites = (since: Date) =>
  readAuditEvents(clusterInfo().auditLogPath!, { userAgent: userAgentOf(fx.op.identity), since }).filter(
    (e) => ['serviceaccounts', 'roles', 'rolebindings'].includes(e.objectRef?.resource ?? ''),
  );

const ready = (name: string) =>
  fx.models.waitFor(name, 'Ready', (m) => condition(m, 'Ready')?.status === 'True', 60_000);

describe('identities shared per namespace', () => {
  it('one scoring and one router identity serve every model of the namespace, least privilege', async () => {
    await fx.models.create('a', rolloutSpec(fx.prom.url));
    await ready('a');
    for (const name of ['lightrank-scoring', 'lightrank-router']) {
      for (const o of await presentAll(name)) {
        expect(o, name).toBeDefined();
        expect(o!.metadata.ownerReferences, `${name} has no owner`).toBeUndefined();
      }
    }
    const since = new Date();
    await fx.models.create('b', rolloutSpec(fx.prom.url));
    await ready('b');
    // the second model wrote no identity of its own, and owns none
    expect(identityWrites(since)).toEqual([]);
    for (const m of ['a', 'b']) {
      for (const suffix of ['scoring', 'router'])
        expect(await presentAll(`${m}-${suffix}`)).toEqual([undefined, undefined, undefined]);
      for (const seg of ['standard', 'shopping'])
        expect((await podSpec(`${m}-${seg}`))?.serviceAccountName).toBe('lightrank-scoring');
      expect((await podSpec(`${m}-router`))?.serviceAccountName).toBe('lightrank-router');
    }
    // what each identity's pods need, and nothing of the other's
    expect(await can('lightrank-scoring', 'create', 'events')).toBe(true);
    expect(await can('lightrank-scoring', 'patch', 'pods')).toBe(true);
    expect(await can('lightrank-scoring', 'list', 'endpointslices.discovery.k8s.io')).toBe(false);
    expect(await can('lightrank-scoring', 'delete', 'pods')).toBe(false);
    expect(await can('lightrank-router', 'watch', 'endpointslices.discovery.k8s.io')).toBe(true);
    expect(await can('lightrank-router', 'create', 'events')).toBe(false);
    expect(await can('lightrank-router', 'get', 'pods')).toBe(false);
    expect(await can('lightrank-router', 'get', 'configmaps')).toBe(false);
  });

  it('a hand-deleted shared Role comes back', async () => {
    await fx.models.client.delete(ROLES, ns.name, 'lightrank-scoring');
    await waitFor('Role lightrank-scoring re-applied', async () => {
      return present(ROLES, 'lightrank-scoring');
    });
  });

  it("deletes a model's per-model identity of earlier versions, and leaves one it does not own", async () => {
    const a = await fx.models.get('a');
    const owner = {
      apiVersion: 'lightrank.dev/v1alpha1',
      kind: 'RankingModel',
      name: 'a',
      uid: a.metadata.uid!,
      controller: true,
    };
    const labels = { 'app.kubernetes.io/managed-by': 'lightrank-operator', 'lightrank.dev/model': 'a' };
    await fx.models.client.create(SERVICEACCOUNTS, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'a-scoring', namespace: ns.name, labels, ownerReferences: [owner] },
    });
    await fx.models.client.create(ROLES, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'a-router', namespace: ns.name, labels, ownerReferences: [owner] },
      rules: [],
    });
    // not owned by the model: someone else's, kept
    await fx.models.client.create(SERVICEACCOUNTS, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'a-router', namespace: ns.name, labels },
    });
    await fx.models.annotate('a', { 'test.lightrank.dev/poke': '1' });
    await waitFor('per-model identity of a deleted', async () => {
      if ((await present(SERVICEACCOUNTS, 'a-scoring')) || (await present(ROLES, 'a-router')))
        throw new Error('still there');
      return true;
    });
    expect(await present(SERVICEACCOUNTS, 'a-router')).toBeDefined();
  });

  it('the router identity goes with the namespace’s last router model, the scoring one with its last model', async () => {
    await fx.models.client.delete(RANKING_MODELS, ns.name, 'a');
    // b still routes with the router
    await fx.models.annotate('b', { 'test.lightrank.dev/poke': '2' });
    await ready('b');
    expect(await presentAll('lightrank-router')).not.toContain(undefined);

    await fx.models.patch('b', {
      spec: { routing: { mode: 'gatewayAPI', parentRefs: [{ name: 'edge', sectionName: 'http' }] } },
    });
    await waitFor('router identity collected', async () => {
      const left = (await presentAll('lightrank-router')).filter(Boolean);
      if (left.length) throw new Error(`${left.length} left`);
      return true;
    });
    expect(await presentAll('lightrank-scoring')).not.toContain(undefined);

    await fx.models.client.delete(RANKING_MODELS, ns.name, 'b');
    await waitFor(
      'scoring identity collected',
      async () => {
        const left = (await presentAll('lightrank-scoring')).filter(Boolean);
        if (left.length) throw new Error(`${left.length} left`);
        return true;
      },
      { timeoutMs: 30_000 },
    );
  });

  it('models created at once write each shared object once', async () => {
    const since = new Date();
    const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    await Promise.all(names.map((n) => fx.models.create(n, rolloutSpec(fx.prom.url))));
    for (const n of names) await ready(n);
    const writes = identityWrites(since).map((e) => `${e.objectRef?.resource}/${e.objectRef?.name}`);
    expect(writes.sort()).toEqual([
      'rolebindings/lightrank-router',
      'rolebindings/lightrank-scoring',
      'roles/lightrank-router',
      'roles/lightrank-scoring',
      'serviceaccounts/lightrank-router',
      'serviceaccounts/lightrank-scoring',
    ]);
  });
});
