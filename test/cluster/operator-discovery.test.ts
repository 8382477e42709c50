// The Gateway API CRDs installed after the operator started: it asks the API server again (every
// `discoverMs`), restarts its caches once HTTPRoutes are served, and from then on treats them like
// every other owned kind — a model in gatewayAPI mode gets its routes, and switching it to router
// mode removes them (before, lists of a kind absent at start were empty without asking, so the
// routes stayed). Runs its own control plane: the shared one has the CRDs from the start.
import { expect, it } from 'vitest';
import { minimalSpec } from '../../api/testing.js';
import { KubeClient } from '../../operator/runtime/kube/client.js';
import { waitFor } from '../harness/cluster.js';
import { applyManifests, readManifests } from '../harness/manifests.js';
import { usePrivateCluster } from './operator-fixture.js';
import { HTTPROUTES } from '../../operator/runtime/kube/types.js';

const fx = usePrivateCluster('operator-discovery'); // the operator asks again every 250 ms

it('watches HTTPRoutes once their CRDs are installed: routes are written and pruned', async () => {
  const { cp, namespace } = fx;
  const client = new KubeClient(cp.kubeConfig);
  expect(await client.serves(HTTPROUTES)).toBe(false);
  await applyManifests(cp.kubeConfig, readManifests(cp.binaries.gatewayApiCrdsDir));
  await waitFor('HTTPRoutes served', () => client.serves(HTTPROUTES), { timeoutMs: 30_000 });

  const spec = minimalSpec();
  spec.routing = { mode: 'gatewayAPI', parentRefs: [{ name: 'edge' }] };
  await fx.createModel('m', spec);
  await waitFor('HTTPRoute m-main', () => client.get(HTTPROUTES, namespace, 'm-main'), { timeoutMs: 30_000 });

  await fx.patchModel('m', [{ op: 'replace', path: '/spec/routing', value: { mode: 'router' } }]);
  await waitFor(
    'HTTPRoute m-main removed',
    async () => (await client.list(HTTPROUTES, namespace)).items.length === 0,
    { timeoutMs: 30_000 },
  );
  client.close();
});
