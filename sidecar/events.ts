// Kubernetes Events for refused or failed syncs, on the sidecar's own Pod (named by the downward
// API: POD_NAME, POD_NAMESPACE, optionally POD_UID), so `kubectl describe pod` and the operator
// see why a snapshot was not taken. Best effort: a failure to record is logged, never thrown.
// Created through the operator's small Kubernetes client (kube.ts says why not client-node).
import type { Logger } from '../lib/logger.js';
import { PodEnv } from '../api/pod-env.js';
import { KubeClient } from '../operator/runtime/kube/client.js';
import type { ClusterCredentials } from '../operator/runtime/kube/kubeconfig.js';
import { EVENTS, inClusterClient, sidecarKubeClient } from './kube.js';

export interface EventReporter {
  warn(reason: string, message: string): Promise<void>;
}

export interface PodRef {
  name: string;
  namespace: string;
  uid?: string;
}

/**
 * Events on `pod` through `api` (or a client of the API server `credentials` point at;
 * client-node's KubeConfig has their shape).
 */
export function kubeEventReporter(
  api: KubeClient | ClusterCredentials,
  pod: PodRef,
  log: Logger,
): EventReporter {
  const client = api instanceof KubeClient ? api : sidecarKubeClient(api);
  return {
    async warn(reason, message) {
      const now = new Date().toISOString();
      try {
        await client.request({
          verb: 'create',
          kind: EVENTS.kind,
          method: 'POST',
          path: KubeClient.path(EVENTS, pod.namespace),
          body: {
            metadata: { generateName: `${pod.name}.`, namespace: pod.namespace },
            involvedObject: { apiVersion: 'v1', kind: 'Pod', ...pod },
            reason,
            message: message.slice(0, 1024),
            type: 'Warning',
            source: { component: 'lightrank-sidecar' },
            reportingComponent: 'lightrank.dev/sidecar',
            reportingInstance: pod.name,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        });
      } catch (err) {
        log.warn({ err: (err as Error).message, reason }, 'could not record a Kubernetes Event');
      }
    },
  };
}

/**
 * In a pod (downward API env + in-cluster service account): Events; elsewhere: none. Without the
 * ServiceAccount's token or CA a warning says so, and there are none either.
 */
export function eventReporterFromEnv(
  env: NodeJS.ProcessEnv,
  log: Logger,
  serviceAccountDir?: string,
): EventReporter | undefined {
  const [name, namespace, uid] = [PodEnv.PodName, PodEnv.PodNamespace, PodEnv.PodUid].map((k) => env[k]);
  const { KUBERNETES_SERVICE_HOST } = env;
  if (!name || !namespace || !KUBERNETES_SERVICE_HOST) return undefined;
  const client = inClusterClient(env, log, 'sync failures will not be Events', serviceAccountDir);
  return client && kubeEventReporter(client, { name, namespace, ...(uid ? { uid } : {}) }, log);
}
