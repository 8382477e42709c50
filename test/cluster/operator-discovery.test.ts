// The Gateway API CRDs installed after the operator started: it asks the API server again (every
// `discoverMs`), restarts its caches once HTTPRoutes are served, and from then on treats them like
// every other owned kind — a model in gatewayAPI mode gets its routes, and switching it to router
// mode removes them (before, lists of a kind absent at start were empty without asking, so the
// routes stayed). Runs its own control plane: the shared one has the CRDs from the start.
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { API_GROUP, API_VERSION, PLURAL } from '../../api/rankingmodel.js';
import { minimalSpec } from '../../api/testing.js';
import { KubeClient } from '../../operator/kube/client.js';
import {
  rankingModel,
  REPO_ROOT,
  startInProcessOperator,
  type InProcessOperator,
} from '../../operator/testing.js';
import { HTTPROUTES } from '../../operator/traffic/provider.js';
import { createTestNamespace, waitFor } from '../harness/cluster.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { applyManifests, readManifests } from '../harness/manifests.js';

let cp: ControlPlane;
let op: InProcessOperator;
let namespace: string;

beforeAll(async () => {
  cp = await startControlPlane({ gpuNodes: 1, cpuNodes: 0, quietBuild: true });
  await applyManifests(cp.kubeConfig, readManifests(join(REPO_ROOT, 'crds')));
  namespace = await createTestNamespace(cp.kubeConfig.makeApiClient(CoreV1Api), 'operator-discovery');
  op = await startInProcessOperator(cp.kubeconfigPath, namespace); // discovery every 250 ms
});

afterAll(async () => {
  await op?.stop();
  await cp?.stop();
});

it('watches HTTPRoutes once their CRDs are installed: routes are written and pruned', async () => {
  const client = new KubeClient(cp.kubeConfig);
  expect(await client.serves(HTTPROUTES)).toBe(false);
  await applyManifests(cp.kubeConfig, readManifests(cp.binaries.gatewayApiCrdsDir));
  await waitFor('HTTPRoutes served', () => client.serves(HTTPROUTES), { timeoutMs: 30_000 });

  const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
  const spec = minimalSpec();
  spec.routing = { mode: 'gatewayAPI', parentRefs: [{ name: 'edge' }] };
  await custom.createNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    namespace,
    plural: PLURAL,
    body: rankingModel('m', namespace, spec),
  });
  await waitFor('HTTPRoute m-main', () => client.get(HTTPROUTES, namespace, 'm-main'), { timeoutMs: 30_000 });

  await custom.patchNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    namespace,
    plural: PLURAL,
    name: 'm',
    body: [{ op: 'replace', path: '/spec/routing', value: { mode: 'router' } }],
  });
  await waitFor(
    'HTTPRoute m-main removed',
    async () => (await client.list(HTTPROUTES, namespace)).items.length === 0,
    { timeoutMs: 30_000 },
  );
  client.close();
});
