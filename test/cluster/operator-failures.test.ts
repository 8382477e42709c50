// A reconcile the API server refuses — here a ValidatingAdmissionPolicy that denies the model's
// Deployments, as a policy engine in a real cluster would — is reported where people look:
// Degraded=True/ApplyFailed naming the denial, a Warning ReconcileFailed Event (once, however
// often the pass is retried), and the model converges once the policy goes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_GROUP, API_VERSION, PLURAL, type RankingModelStatus } from '../../api/rankingmodel.js';
import { minimalSpec } from '../../api/testing.js';
import type { KubeClient } from '../../operator/runtime/kube/client.js';
import type { ResourceRef } from '../../operator/runtime/kube/types.js';
import { RANKING_MODELS } from '../../operator/reconciler.js';
import { rankingModel, testClient } from '../../operator/testing.js';
import { clients, clusterInfo, useTestNamespace, waitFor } from '../harness/cluster.js';
import { useInProcessOperator } from './operator-fixture.js';

const ns = useTestNamespace('operator-failures');
const POLICY = `lightrank-test-deny-${Math.random().toString(16).slice(2, 8)}`;
const POLICIES: ResourceRef = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural: 'validatingadmissionpolicies',
  kind: 'ValidatingAdmissionPolicy',
};
const BINDINGS: ResourceRef = {
  ...POLICIES,
  plural: 'validatingadmissionpolicybindings',
  kind: 'ValidatingAdmissionPolicyBinding',
};
useInProcessOperator(ns);
let client: KubeClient;

beforeAll(async () => {
  client = testClient(clusterInfo().kubeconfigPath);
});
afterAll(async () => {
  for (const ref of [BINDINGS, POLICIES]) await client.delete(ref, undefined, POLICY).catch(() => {});
  client.close();
});

const status = async (name: string) =>
  (
    (await clients().custom.getNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      name,
    })) as { status?: RankingModelStatus }
  ).status;
const degraded = (s: RankingModelStatus | undefined) => s?.conditions?.find((c) => c.type === 'Degraded');

describe('a reconcile the API server refuses', () => {
  it('is reported in status and one Event, and converges once the cause goes', async () => {
    await client.create(POLICIES, {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: POLICY },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ['apps'],
              apiVersions: ['v1'],
              operations: ['CREATE', 'UPDATE'],
              resources: ['deployments'],
            },
          ],
        },
        validations: [
          {
            expression: "!object.metadata.name.startsWith('denied-')",
            message: 'deployments named denied-* are not allowed in this namespace',
          },
        ],
      },
    });
    await client.create(BINDINGS, {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: POLICY },
      spec: {
        policyName: POLICY,
        validationActions: ['Deny'],
        matchResources: {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns.name } },
        },
      },
    });
    // the API server enforces a new policy once its cache has it: probe until a Deployment is denied
    await waitFor(
      'the admission policy to be enforced',
      async () => {
        try {
          await client.create(
            { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' },
            {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              metadata: { name: 'denied-probe', namespace: ns.name },
              spec: {
                replicas: 0,
                selector: { matchLabels: { a: 'b' } },
                template: {
                  metadata: { labels: { a: 'b' } },
                  spec: { containers: [{ name: 'c', image: 'x' }] },
                },
              },
            },
          );
          await client.delete(
            { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' },
            ns.name,
            'denied-probe',
          );
          return false;
        } catch (err) {
          return /not allowed in this namespace/.test(String(err));
        }
      },
      { timeoutMs: 30_000 },
    );

    const name = 'denied-ads';
    await client.create(RANKING_MODELS, rankingModel(name, ns.name, minimalSpec()));
    const failed = await waitFor(
      'Degraded ApplyFailed',
      async () => {
        const s = await status(name);
        return degraded(s)?.reason === 'ApplyFailed' ? s : false;
      },
      { timeoutMs: 30_000 },
    );
    expect(degraded(failed)).toMatchObject({ status: 'True' });
    expect(degraded(failed)?.message).toMatch(/^reconcile failed, retrying: .*not allowed in this namespace/);
    expect(failed?.phase).toBe('Degraded');

    // retried with backoff meanwhile; the Warning is written once
    await new Promise((r) => setTimeout(r, 2000));
    const warnings = (
      await clients().core.listNamespacedEvent({
        namespace: ns.name,
        fieldSelector: `involvedObject.name=${name},reason=ReconcileFailed`,
      })
    ).items;
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.type).toBe('Warning');

    // the cause goes: the next retry gets through and the status is computed afresh
    await client.delete(BINDINGS, undefined, POLICY);
    await client.delete(POLICIES, undefined, POLICY);
    await waitFor(
      'converged after the policy went',
      async () => {
        const s = await status(name);
        return (
          degraded(s)?.status === 'False' &&
          s?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
        );
      },
      { timeoutMs: 60_000 },
    );
  });
});
