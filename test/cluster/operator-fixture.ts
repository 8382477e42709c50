// The in-process operator a cluster test file runs against: started before its tests, watching
// the file's namespace (resync an hour away, so only the test's changes drive it), stopped after.
// `usePrivateCluster` gives a file its own control plane instead (lightrank's CRDs only, one GPU
// node) and an operator on it, for tests that would disturb the shared one or need it different.
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { API_GROUP, API_VERSION, PLURAL } from '../../api/rankingmodel.js';
import type { RankingModelSpecInput } from '../../api/rankingmodel.js';
import {
  rankingModel,
  REPO_ROOT,
  startInProcessOperator,
  type InProcessOperator,
} from '../../operator/testing.js';
import { clusterInfo, createTestNamespace } from '../harness/cluster.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { applyManifests, readManifests } from '../harness/manifests.js';

/** Images the operator's Deployments name (kwok never pulls them). */
export const TEST_IMAGE = 'registry.test/lightrank-server:1';

/** Registers the hooks; `.op` is the running operator inside the tests. */
export function useInProcessOperator(ns: { readonly name: string }): { readonly op: InProcessOperator } {
  const fixture = {} as { op: InProcessOperator };
  beforeAll(async () => {
    fixture.op = await startInProcessOperator(clusterInfo().kubeconfigPath, ns.name, {
      serverImage: TEST_IMAGE,
      sidecarImage: TEST_IMAGE,
      resyncPeriodMs: 3_600_000,
    });
  });
  afterAll(async () => {
    await fixture.op?.stop();
  });
  return fixture;
}

/** What usePrivateCluster gives the tests once its hooks ran. */
export interface PrivateCluster {
  readonly cp: ControlPlane;
  readonly op: InProcessOperator;
  readonly namespace: string;
  /** Creates RankingModel `name` in the namespace. */
  createModel(name: string, spec: RankingModelSpecInput): Promise<void>;
  /** Applies a JSON patch to RankingModel `name`. */
  patchModel(name: string, ops: { op: string; path: string; value?: unknown }[]): Promise<void>;
}

/** Registers the hooks; the returned object is usable inside the tests. */
export function usePrivateCluster(name: string): PrivateCluster {
  const fixture = {} as { cp: ControlPlane; op: InProcessOperator; namespace: string };
  const custom = () => fixture.cp.kubeConfig.makeApiClient(CustomObjectsApi);
  const where = () => ({
    group: API_GROUP,
    version: API_VERSION,
    namespace: fixture.namespace,
    plural: PLURAL,
  });
  beforeAll(async () => {
    fixture.cp = await startControlPlane({ gpuNodes: 1, cpuNodes: 0, quietBuild: true });
    await applyManifests(fixture.cp.kubeConfig, readManifests(join(REPO_ROOT, 'crds')));
    fixture.namespace = await createTestNamespace(fixture.cp.kubeConfig.makeApiClient(CoreV1Api), name);
    fixture.op = await startInProcessOperator(fixture.cp.kubeconfigPath, fixture.namespace);
  });
  afterAll(async () => {
    await fixture.op?.stop();
    await fixture.cp?.stop();
  });
  return {
    get cp() {
      return fixture.cp;
    },
    get op() {
      return fixture.op;
    },
    get namespace() {
      return fixture.namespace;
    },
    async createModel(model, spec) {
      await custom().createNamespacedCustomObject({
        ...where(),
        body: rankingModel(model, fixture.namespace, spec),
      });
    },
    async patchModel(model, ops) {
      await custom().patchNamespacedCustomObject({ ...where(), name: model, body: ops });
    },
  };
}
