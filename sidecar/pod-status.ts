// Reports what the sidecar serves on its own Pod's annotations (api/pod-annotations.ts) with a
// JSON merge patch, so the operator can fill RankingModel status from its pod informer. Best
// effort: a failed patch is logged once (until one succeeds again) and never thrown. The patch goes
// through the operator's small Kubernetes client (kube.ts says why not client-node).
import { PodAnnotation } from '../api/pod-annotations.js';
import type { Logger } from '../lib/logger.js';
import { KubeClient } from '../operator/runtime/kube/client.js';
import type { ClusterCredentials } from '../operator/runtime/kube/kubeconfig.js';
import type { PodRef } from './events.js';
import { PodEnv } from '../api/pod-env.js';
import { PODS, inClusterClient, sidecarKubeClient } from './kube.js';

export interface ServedState {
  snapshotVersion: string;
  /** The snapshot manifest's createdAt, when it could be read. */
  snapshotCreatedAt?: string | undefined;
  modelVersion: string;
}

export type RefusedKind = 'model' | 'snapshot';

export interface PodStatusReporter {
  /** Storage's LATEST now names `version` (written before it is downloaded). */
  latest(version: string): Promise<void>;
  /** A snapshot (and model) is published and current; clears earlier refusals. */
  served(state: ServedState): Promise<void>;
  /**
   * The `kind` at `version` was refused for `cause` (`<code>: <message>`, code from errors.ts
   * RefusalCause); the previous one (if any) keeps serving.
   */
  refused(kind: RefusedKind, version: string, cause: string): Promise<void>;
  /** A `kind` refused before has since been published: remove the refusal. */
  accepted(kind: RefusedKind): Promise<void>;
}

const REFUSED: Record<RefusedKind, string> = {
  model: PodAnnotation.ModelRefused,
  snapshot: PodAnnotation.SnapshotRefused,
};

/**
 * Patches the annotations of `pod` through `api` (or a client of the API server `credentials`
 * point at; client-node's KubeConfig has their shape).
 */
export function kubePodStatusReporter(
  api: KubeClient | ClusterCredentials,
  pod: PodRef,
  log: Logger,
): PodStatusReporter {
  const client = api instanceof KubeClient ? api : sidecarKubeClient(api);
  let failing = false;
  const patch = async (annotations: Record<string, string | null>): Promise<void> => {
    try {
      await client.request({
        verb: 'patch',
        kind: PODS.kind,
        method: 'PATCH',
        path: KubeClient.path(PODS, pod.namespace, pod.name),
        body: { metadata: { annotations } },
        contentType: 'application/merge-patch+json',
      });
      failing = false;
    } catch (err) {
      if (!failing)
        log.warn(
          { err: (err as Error).message, pod: `${pod.namespace}/${pod.name}` },
          'could not annotate the pod with the served snapshot; the operator will not see it',
        );
      failing = true;
    }
  };
  return {
    latest: (version) => patch({ [PodAnnotation.SnapshotLatest]: version }),
    served: (s) =>
      patch({
        [PodAnnotation.SnapshotVersion]: s.snapshotVersion,
        [PodAnnotation.SnapshotCreatedAt]: s.snapshotCreatedAt ?? null,
        [PodAnnotation.ModelVersion]: s.modelVersion,
        [PodAnnotation.SnapshotRefused]: null,
        [PodAnnotation.ModelRefused]: null,
      }),
    refused: (kind, version, cause) => patch({ [REFUSED[kind]]: `${version}: ${cause}`.slice(0, 1024) }),
    accepted: (kind) => patch({ [REFUSED[kind]]: null }),
  };
}

/**
 * In a pod (downward API env + in-cluster service account): a reporter; elsewhere: none. Without
 * the ServiceAccount's token or CA a warning says so, and there is none either.
 */
export function podStatusReporterFromEnv(
  env: NodeJS.ProcessEnv,
  log: Logger,
  serviceAccountDir?: string,
): PodStatusReporter | undefined {
  const [name, namespace] = [PodEnv.PodName, PodEnv.PodNamespace].map((k) => env[k]);
  const { KUBERNETES_SERVICE_HOST } = env;
  if (!name || !namespace || !KUBERNETES_SERVICE_HOST) return undefined;
  const client = inClusterClient(
    env,
    log,
    'the served snapshot will not be annotated on the pod',
    serviceAccountDir,
  );
  return client && kubePodStatusReporter(client, { name, namespace }, log);
}
