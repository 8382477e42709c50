// The KEDA alternative, checked against KEDA's own schema on a real API server: KEDA's
// ScaledObject CRD (config/crd/bases/keda.sh_scaledobjects.yaml from the KEDA Go module, fetched
// into the cache by scripts/fetch-keda-crds.sh, never committed) is installed on a private control
// plane before the operator starts. Given a segment with autoscaling.engine keda, the operator
// writes a ScaledObject the API server accepts under KEDA's structural schema with strict field
// validation (no HPA); switching the segment to engine hpa replaces it with an HPA. KEDA itself
// (its controller) does not run here: what is checked is what the operator writes.
import { join } from 'node:path';
import { ApiException, AutoscalingV2Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minimalSpec } from '../../api/testing.js';
import { RankingModelSpecSchema, type RankingModel } from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';
import { buildScaledObject } from '../../operator/autoscaling/objects.js';
import {
  rankingModel,
  REPO_ROOT,
  startInProcessOperator,
  type InProcessOperator,
} from '../../operator/testing.js';
import { createTestNamespace } from '../harness/cluster.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { applyManifests, readManifests } from '../harness/manifests.js';
import { buildTool } from '../harness/tools.js';
import { waitFor } from '../harness/wait.js';

let cp: ControlPlane;
let op: InProcessOperator;
let namespace: string;

const KEDA = { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects' };

function spec(engine: 'keda' | 'hpa') {
  const s = minimalSpec();
  s.serving = { executionProvider: 'cpu' };
  s.segments[0]!.autoscaling = {
    engine,
    minReplicas: engine === 'keda' ? 0 : 1,
    maxReplicas: 4,
    metric: 'queueDelayMilliseconds',
    target: 3,
    ...(engine === 'keda' ? { prometheusAddress: 'http://prometheus.monitoring:9090' } : {}),
  };
  return s;
}

beforeAll(async () => {
  const kedaCrds = await buildTool('fetch-keda-crds.sh');
  cp = await startControlPlane({ gpuNodes: 0, cpuNodes: 1 });
  await applyManifests(cp.kubeConfig, readManifests(join(REPO_ROOT, 'crds')));
  await applyManifests(cp.kubeConfig, readManifests(kedaCrds));
  namespace = await createTestNamespace(cp.kubeConfig.makeApiClient(CoreV1Api), 'keda');
  // after KEDA's CRDs: the operator caches ScaledObjects only where the cluster serves them at start
  op = await startInProcessOperator(cp.kubeconfigPath, namespace, { resyncPeriodMs: 3_600_000 });
}, 300_000);

afterAll(async () => {
  await op?.stop();
  await cp?.stop();
});

describe('engine keda', () => {
  it('KEDA’s schema accepts the ScaledObject the builder writes, and refuses a broken one', async () => {
    const model: RankingModel = {
      apiVersion: 'lightrank.dev/v1alpha1',
      kind: 'RankingModel',
      metadata: { name: 'built', namespace, uid: '00000000-0000-0000-0000-000000000001' },
      spec: RankingModelSpecSchema.parse(spec('keda')),
    };
    const so = buildScaledObject(model, resolveSegments(model.spec, { image: 'img' })[0]!);
    const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    const create = (body: object) =>
      custom.createNamespacedCustomObject({
        ...KEDA,
        namespace,
        body,
        dryRun: 'All',
        fieldValidation: 'Strict',
      });
    await create({ ...so, metadata: { name: 'built', namespace } });
    // the check is real: a field KEDA does not have, and a trigger without its type, are refused
    const refusal = async (body: object): Promise<string> => {
      try {
        await create(body);
      } catch (err) {
        if (err instanceof ApiException && typeof err.body === 'string')
          return (JSON.parse(err.body) as { message: string }).message;
        throw err;
      }
      throw new Error('the API server accepted it');
    };
    expect(
      await refusal({ ...so, metadata: { name: 'bad', namespace }, spec: { ...so.spec, minReplicas: 1 } }),
    ).toContain('unknown field "spec.minReplicas"');
    expect(
      await refusal({
        ...so,
        metadata: { name: 'bad', namespace },
        spec: { ...so.spec, triggers: [{ metadata: {} }] },
      }),
    ).toContain('spec.triggers[0].type: Required value');
  });

  it('the operator writes a ScaledObject for engine keda, and an HPA in its place for engine hpa', async () => {
    const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({
      group: 'lightrank.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'rankingmodels',
      body: rankingModel('ads', namespace, spec('keda')),
    });
    const so = (await waitFor(
      'the operator’s ScaledObject',
      () => custom.getNamespacedCustomObject({ ...KEDA, namespace, name: 'ads-main' }),
      { timeoutMs: 30_000, intervalMs: 250 },
    )) as { spec: Record<string, unknown>; metadata: { ownerReferences?: { kind: string }[] } };
    expect(so.spec).toMatchObject({
      scaleTargetRef: { name: 'ads-main' },
      minReplicaCount: 0,
      maxReplicaCount: 4,
      triggers: [{ type: 'prometheus', metricType: 'Value', metadata: { threshold: '3' } }],
    });
    expect(so.metadata.ownerReferences?.[0]?.kind).toBe('RankingModel');
    const hpas = cp.kubeConfig.makeApiClient(AutoscalingV2Api);
    expect((await hpas.listNamespacedHorizontalPodAutoscaler({ namespace })).items).toEqual([]);

    await custom.patchNamespacedCustomObject({
      group: 'lightrank.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'rankingmodels',
      name: 'ads',
      body: [
        { op: 'replace', path: '/spec/segments/0/autoscaling', value: spec('hpa').segments[0]!.autoscaling },
      ],
    });
    await waitFor(
      'the HPA instead of the ScaledObject',
      async () => {
        const list = await hpas.listNamespacedHorizontalPodAutoscaler({ namespace });
        const left = (await custom.listNamespacedCustomObject({ ...KEDA, namespace })) as {
          items: unknown[];
        };
        return list.items.length === 1 && left.items.length === 0 ? list.items[0] : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    ).then((hpa) =>
      expect(hpa.spec?.metrics?.[0]).toMatchObject({
        type: 'Pods',
        pods: { metric: { name: 'lightrank_queue_delay_milliseconds' }, target: { averageValue: '3' } },
      }),
    );
  });
});
