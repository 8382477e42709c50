// The API server restarted under a running operator: its watches break and its calls fail for a
// while; it reconnects (capped backoff) and converges changes made after the restart. Runs its
// own control plane, because the restart would disturb the other test files' shared one.
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { API_GROUP, API_VERSION, PLURAL } from '../../api/rankingmodel.js';
import { minimalSpec } from '../../api/testing.js';
import {
  rankingModel,
  REPO_ROOT,
  startInProcessOperator,
  type InProcessOperator,
} from '../../operator/testing.js';
import { createTestNamespace, waitFor } from '../harness/cluster.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { applyManifests, readManifests } from '../harness/manifests.js';

let cp: ControlPlane;
let op: InProcessOperator;
let namespace: string;

beforeAll(async () => {
  cp = await startControlPlane({ gpuNodes: 1, cpuNodes: 0, quietBuild: true });
  await applyManifests(cp.kubeConfig, readManifests(join(REPO_ROOT, 'crds')));
  namespace = await createTestNamespace(cp.kubeConfig.makeApiClient(CoreV1Api), 'operator-restart');
  op = await startInProcessOperator(cp.kubeconfigPath, namespace);
});

afterAll(async () => {
  await op?.stop();
  await cp?.stop();
});

it('reconnects after an API server restart and converges', async () => {
  const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
  const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
  const replicas = async () =>
    (await apps.readNamespacedDeployment({ name: 'm-main', namespace })).spec?.replicas;
  await custom.createNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    namespace,
    plural: PLURAL,
    body: rankingModel('m', namespace, minimalSpec()),
  });
  await waitFor('m-main created', async () => (await replicas()) === 1, { timeoutMs: 30_000 });

  await cp.restartApiServer();

  // a change made after the restart is seen (the RankingModel watch is back) and applied
  await custom.patchNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    namespace,
    plural: PLURAL,
    name: 'm',
    body: [{ op: 'replace', path: '/spec/segments/0/replicas', value: 2 }],
  });
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
