// The floor the operator benchmark is measured against: the same objects the operator would
// write for each RankingModel (built by the same pure builders), applied by a plain client with
// no reconcile logic, no status and no Events, as fast as the API server takes them, on a fresh
// control plane of the same size. Time until every stable scoring Deployment and every router has
// its replicas ready is what "all RankingModels Ready" needs; what is left above it is the
// operator's cost.
import { CoreV1Api } from '@kubernetes/client-node';
import { join } from 'node:path';
import {
  RankingModelSpecSchema,
  type RankingModel,
  type RankingModelSpecInput,
} from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';
import { MANAGED_SELECTOR, buildDeployment, buildService, type Deployment } from '../../operator/builders.js';
import { KubeClient } from '../../operator/runtime/kube/client.js';
import {
  DEPLOYMENTS,
  SERVICES,
  type KubeObject,
  type ResourceRef,
  CONFIGMAPS,
} from '../../operator/runtime/kube/types.js';
import { loadKubeConfig } from '../../operator/testing.js';
import { RANKING_MODELS } from '../../operator/reconciler.js';
import { rankingModel, REPO_ROOT } from '../../operator/testing.js';
import {
  buildRouterConfigMap,
  buildRouterDeployment,
  buildRouterService,
  buildRouterTable,
} from '../../operator/traffic/router/objects.js';
import { buildSharedIdentity } from '../../operator/identity.js';
import {
  buildSharedRouter,
  buildSharedTable,
  tableContent,
  tableKey,
} from '../../operator/traffic/router/shared.js';
import { createTestNamespace } from '../../test/harness/cluster.js';
import type { ControlPlane } from '../../test/harness/control-plane.js';
import { applyManifests, readManifests } from '../../test/harness/manifests.js';

const IMAGE = 'lightrank/server:bench';
const SIDECAR_IMAGE = 'lightrank/sidecar:bench';
/** Models whose objects are in flight at once (each sends its objects in two parallel waves). */
const CONCURRENT_MODELS = 16;

export type RouterScope = 'model' | 'namespace';

/**
 * The objects the operator writes once per namespace: the shared identities (operator/identity.ts),
 * and in namespace scope the shared router (traffic/router/shared.ts).
 */
export function namespaceObjects(
  namespace: string,
  scope: RouterScope = 'model',
): [ResourceRef, KubeObject][] {
  return [
    ...buildSharedIdentity('scoring', namespace),
    ...buildSharedIdentity('router', namespace),
    ...(scope === 'namespace' ? buildSharedRouter(namespace, IMAGE, {}) : []),
  ];
}

/** An object to apply, or (a key) one key of the namespace's shared table to merge-patch. */
export type Desired = [ResourceRef, KubeObject, { key: string; value: string }?];

/**
 * The objects the operator writes for a new model, in two waves: the table (the model's own
 * ConfigMap, or its key of the namespace's shared one), then the rest.
 */
export function desiredObjects(model: RankingModel, scope: RouterScope = 'model'): Desired[][] {
  const segments = resolveSegments(model.spec, { image: IMAGE });
  const table = buildRouterTable(model, segments, new Map(), new Set());
  const ns = model.metadata.namespace ?? 'default';
  return [
    [
      scope === 'namespace'
        ? [
            CONFIGMAPS,
            buildSharedTable(ns),
            { key: tableKey(model.metadata.name), value: tableContent(table) },
          ]
        : [CONFIGMAPS, buildRouterConfigMap(model, table)],
    ],
    [
      ...segments.flatMap((seg): Desired[] => [
        [DEPLOYMENTS, buildDeployment(model, seg, 'stable', { sidecarImage: SIDECAR_IMAGE })],
        // the stable backend too (traffic/services.ts): no per-track Service for a model that never rolls out
        [SERVICES, buildService(model, seg)],
      ]),
      ...(scope === 'namespace'
        ? []
        : ([
            [DEPLOYMENTS, buildRouterDeployment(model, IMAGE, {})],
            [SERVICES, buildRouterService(model)],
          ] as Desired[])),
    ],
  ];
}

export interface FloorResult {
  applied: number;
  ready: number;
  writes: number;
}

/** Creates the models, applies their objects with a plain client, waits for the stable Deployments. */
export async function measureFloor(
  cp: ControlPlane,
  names: string[],
  spec: RankingModelSpecInput,
  segments: number,
  log: (m: string) => void,
  scope: RouterScope = 'model',
): Promise<FloorResult> {
  await applyManifests(cp.kubeConfig, [
    ...readManifests(join(REPO_ROOT, 'crds')),
    ...readManifests(cp.binaries.gatewayApiCrdsDir),
  ]);
  const ns = await createTestNamespace(cp.kubeConfig.makeApiClient(CoreV1Api), 'floor');
  const client = new KubeClient(loadKubeConfig(cp.kubeconfigPath), { userAgent: 'lightrank-floor' });
  try {
    log(`floor: ${names.length} RankingModels, their objects applied by a plain client`);
    const parsed = RankingModelSpecSchema.parse(spec);
    const t0 = performance.now();
    await Promise.all(namespaceObjects(ns, scope).map(([ref, obj]) => client.apply(ref, obj)));
    const models: RankingModel[] = [];
    for (let i = 0; i < names.length; i += 20) {
      const created = await Promise.all(
        names.slice(i, i + 20).map((n) => client.create(RANKING_MODELS, rankingModel(n, ns, spec))),
      );
      for (const c of created) models.push({ ...(c as unknown as RankingModel), spec: parsed });
    }
    let next = 0;
    // the keys of the shared table one at a time, each a merge patch, as the operator sends them
    // (OwnedObjects.setDataKey)
    let keys: Promise<unknown> = Promise.resolve();
    const apply = ([ref, obj, key]: Desired): Promise<unknown> => {
      if (!key) return client.apply(ref, obj);
      const turn = keys.then(() =>
        client.request({
          verb: 'patch',
          kind: ref.kind,
          method: 'PATCH',
          path: KubeClient.path(ref, obj.metadata.namespace, obj.metadata.name),
          body: { data: { [key.key]: key.value } },
          contentType: 'application/merge-patch+json',
          query: { fieldManager: 'lightrank-floor' },
        }),
      );
      keys = turn.catch(() => undefined);
      return turn;
    };
    const worker = async () => {
      while (next < models.length) {
        const model = models[next++]!;
        for (const wave of desiredObjects(model, scope)) await Promise.all(wave.map(apply));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENT_MODELS }, worker));
    const applied = performance.now() - t0;

    // every segment's stable Deployment and every model's router (or the namespace's), as Ready needs
    const wanted = names.length * segments + (scope === 'namespace' ? 1 : names.length);
    let ready = 0;
    const deadline = Date.now() + 300_000;
    while (!ready && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      const list = await client.list<Deployment>(DEPLOYMENTS, ns, {
        labelSelector: MANAGED_SELECTOR,
      });
      const done = list.items.filter((d) => {
        const s = d.status as { readyReplicas?: number } | undefined;
        return (s?.readyReplicas ?? 0) >= (d.spec.replicas as number);
      }).length;
      if (done === wanted) ready = performance.now() - t0;
    }
    if (!ready) throw new Error('floor: not every Deployment became ready within 300 s');
    const writes = cp.countAuditWrites({ userAgent: 'lightrank-floor' });
    return { applied, ready, writes };
  } finally {
    client.close();
  }
}
