// Pod Security `restricted` on the real API server (its PodSecurity admission plugin, on by
// default): in a namespace labelled pod-security.kubernetes.io/enforce=restricted, every pod the
// operator's Deployments ask for — the scoring pods of both segments and the router — is
// admitted and created by its ReplicaSet. A plain pod without a security context is refused
// there, which shows the namespace really enforces the profile.
import { describe, expect, it } from 'vitest';
import { API_GROUP, API_VERSION, PLURAL } from '../../api/rankingmodel.js';
import { twoSegmentSpec } from '../../api/testing.js';
import { MANAGED_SELECTOR } from '../../operator/builders.js';
import { rankingModel } from '../../operator/testing.js';
import { clients, serverSideApply, useTestNamespace, waitFor } from '../harness/cluster.js';
import { TEST_IMAGE, useInProcessOperator } from './operator-fixture.js';

const ns = useTestNamespace('pod-security');
useInProcessOperator(ns);

const enforceRestricted = async (): Promise<void> => {
  await serverSideApply(
    clients().kc,
    `/api/v1/namespaces/${ns.name}`,
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns.name, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    },
    'pod-security-test',
  );
};

describe('Pod Security restricted', () => {
  it('refuses a pod without a security context in the namespace (the profile is enforced)', async () => {
    await enforceRestricted();
    const refused = await clients()
      .core.createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name: 'plain' },
          spec: { containers: [{ name: 'c', image: TEST_IMAGE }] },
        },
      })
      .then(
        () => undefined,
        (err: unknown) =>
          (JSON.parse(String((err as { body?: unknown }).body)) as { message: string }).message,
      );
    expect(refused).toMatch(/violates PodSecurity "restricted:latest"/);
  });

  it('admits every pod of the scoring and router Deployments the operator creates', async () => {
    await enforceRestricted();
    await clients().custom.createNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      body: rankingModel('ads', ns.name, { ...twoSegmentSpec(), routing: { mode: 'router' } }),
    });
    // scoring: standard (2 replicas) + shopping (1); the router Deployment's replicas on top
    const deployments = await waitFor('the operator created the Deployments', async () => {
      const list = await clients().apps.listNamespacedDeployment({
        namespace: ns.name,
        labelSelector: MANAGED_SELECTOR,
      });
      const names = list.items.map((d) => d.metadata!.name!);
      if (names.length < 3) throw new Error(`Deployments so far: ${names.join(', ')}`);
      return list.items;
    });
    const wanted = deployments.reduce((n, d) => n + (d.spec?.replicas ?? 1), 0);
    const pods = await waitFor(
      `all ${wanted} pods created by their ReplicaSets`,
      async () => {
        const list = await clients().core.listNamespacedPod({ namespace: ns.name });
        if (list.items.length < wanted) {
          const events = await clients().core.listNamespacedEvent({ namespace: ns.name });
          const failed = events.items
            .filter((e) => e.reason === 'FailedCreate')
            .map((e) => e.message)
            .slice(-2);
          throw new Error(`${list.items.length}/${wanted} pods; FailedCreate: ${failed.join(' | ')}`);
        }
        return list.items;
      },
      { timeoutMs: 60_000 },
    );
    expect(pods).toHaveLength(wanted);
    for (const pod of pods) {
      expect(pod.spec?.securityContext?.runAsNonRoot, pod.metadata?.name).toBe(true);
      for (const c of pod.spec?.containers ?? []) {
        expect(c.securityContext?.readOnlyRootFilesystem, `${pod.metadata?.name}/${c.name}`).toBe(true);
        expect(c.securityContext?.capabilities?.drop).toEqual(['ALL']);
        // a read-only root needs a writable /tmp
        expect(c.volumeMounts?.map((m) => m.mountPath)).toContain('/tmp');
      }
    }
  });
});
