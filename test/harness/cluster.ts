// What tests under test/cluster/ import: the cluster the global setup prepared, typed API
// clients for it, a namespace of their own per test file, and polling helpers.
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  VersionApi,
  type V1Pod,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import type { ClusterInfo } from './global-setup.js';
import { waitFor, type WaitOptions } from './wait.js';

export { waitFor, type WaitOptions };
/** Plain-JSON reads and server-side apply, for objects client-node's typed models would alter. */
export { getJson, serverSideApply } from './raw.js';
export type { ClusterInfo };

export function clusterInfo(): ClusterInfo {
  const info = inject('lightrankCluster');
  if (!info) throw new Error('no cluster: run this test in the vitest `cluster` project (test/cluster/)');
  return info;
}

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  apiext: ApiextensionsV1Api;
  custom: CustomObjectsApi;
  objects: KubernetesObjectApi;
  version: VersionApi;
}

/** API clients for the cluster at `kubeconfigPath` (default: the test run's cluster). */
export function clients(kubeconfigPath = clusterInfo().kubeconfigPath): Clients {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    apiext: kc.makeApiClient(ApiextensionsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(kc),
    version: kc.makeApiClient(VersionApi),
  };
}

/**
 * Gives the calling test file a fresh namespace (created in beforeAll, deleted in afterAll;
 * `LIGHTRANK_KEEP_NAMESPACES=1` keeps it for a look afterwards). Read `.name` inside tests.
 */
export function useTestNamespace(prefix = 'test'): { readonly name: string } {
  let name: string | undefined;
  beforeAll(async () => {
    name = await createTestNamespace(clients().core, prefix);
  });
  afterAll(async () => {
    if (name && process.env.LIGHTRANK_KEEP_NAMESPACES !== '1') await clients().core.deleteNamespace({ name });
  });
  return {
    get name(): string {
      if (!name) throw new Error('the test namespace exists only inside tests (after beforeAll)');
      return name;
    },
  };
}

/**
 * Creates `<prefix>-<random>` and waits for its `default` ServiceAccount, without which the
 * ServiceAccount admission plugin rejects pods.
 */
export async function createTestNamespace(core: CoreV1Api, prefix: string): Promise<string> {
  const stem = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 50);
  const name = `${stem}-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name, labels: { 'lightrank.dev/test': 'true' } } } });
  await waitFor(`ServiceAccount ${name}/default`, async () => {
    await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
    return true;
  });
  return name;
}

export function isPodReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** Waits for `count` pods matching the selector to be Running and Ready; returns them. */
export async function waitForReadyPods(
  core: CoreV1Api,
  namespace: string,
  labelSelector: string,
  count: number,
  opts?: WaitOptions,
): Promise<V1Pod[]> {
  let seen = '';
  return waitFor(
    `${count} Running and Ready pods matching "${labelSelector}" in ${namespace}`,
    async () => {
      const pods = (await core.listNamespacedPod({ namespace, labelSelector })).items;
      const ready = pods.filter(isPodReady);
      seen = pods.map((p) => `${p.metadata?.name}=${p.status?.phase}`).join(', ');
      if (ready.length === count && pods.length === count) return ready;
      throw new Error(`seen: ${seen || 'no pods'}`);
    },
    opts,
  );
}
