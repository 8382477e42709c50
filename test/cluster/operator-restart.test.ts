// The API server restarted under a running operator: its watches break and its calls fail for a
// while; it reconnects (capped backoff) and converges changes made after the restart. Runs its
// own control plane, because the restart would disturb the other test files' shared one.
import { AppsV1Api } from '@kubernetes/client-node';
import { expect, it } from 'vitest';
import { minimalSpec } from '../../api/testing.js';
import { waitFor } from '../harness/cluster.js';
import { usePrivateCluster } from './operator-fixture.js';

const fx = usePrivateCluster('operator-restart');

it('reconnects after an API server restart and converges', async () => {
  const { cp, op, namespace } = fx;
  const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
  const replicas = async () =>
    (await apps.readNamespacedDeployment({ name: 'm-main', namespace })).spec?.replicas;
  await fx.createModel('m', minimalSpec());
  await waitFor('m-main created', async () => (await replicas()) === 1, { timeoutMs: 30_000 });

  await cp.restartApiServer();

  // a change made after the restart is seen (the RankingModel watch is back) and applied
  await fx.patchModel('m', [{ op: 'replace', path: '/spec/segments/0/replicas', value: 2 }]);
  await waitFor('m-main scaled to 2', async () => (await replicas()) === 2, { timeoutMs: 45_000 });
  // and the Deployment watch is back too: a deleted Deployment is recreated
  const uid = (await apps.readNamespacedDeployment({ name: 'm-main', namespace })).metadata?.uid;
  await apps.deleteNamespacedDeployment({ name: 'm-main', namespace });
  await waitFor(
    'm-main recreated',
    async () => (await apps.readNamespacedDeployment({ name: 'm-main', namespace })).metadata?.uid !== uid,
    { timeoutMs: 30_000 },
  );

  // the outage was seen: watches or calls failed and were retried
  const errors = (await op.operator.metrics.apiErrors.get()).values.reduce((s, v) => s + v.value, 0);
  expect(errors).toBeGreaterThan(0);
});
