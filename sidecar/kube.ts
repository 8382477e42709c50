// The sidecar's way to its API server, for its Events (events.ts) and pod annotations
// (pod-status.ts): the operator's own small client and credential reader (operator/runtime/kube/),
// not @kubernetes/client-node, whose generated API cost every scoring pod's sidecar ~55 MiB
// of RSS idle (bench/results-operator.md) for two calls. The calls carry the user agent
// `lightrank-sidecar` (the API server's audit log tells them from the operator's).
//
// API:
//   sidecarKubeClient(credentials) → KubeClient
//   inClusterClient(env, log, without) → KubeClient | undefined   (undefined: not in a pod, or no
//                                                                  ServiceAccount; `without` is logged)
//   PODS, EVENTS: ResourceRef
import type { Logger } from '../lib/logger.js';
import { KubeClient } from '../operator/runtime/kube/client.js';
import { inClusterCredentials, type ClusterCredentials } from '../operator/runtime/kube/kubeconfig.js';
import type { ResourceRef } from '../operator/runtime/kube/types.js';

export const PODS: ResourceRef = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' };
export const EVENTS: ResourceRef = { group: '', version: 'v1', plural: 'events', kind: 'Event' };

export const SIDECAR_USER_AGENT = 'lightrank-sidecar';

export function sidecarKubeClient(credentials: ClusterCredentials): KubeClient {
  return new KubeClient(credentials, { userAgent: SIDECAR_USER_AGENT });
}

/**
 * The pod's ServiceAccount credentials (env: KUBERNETES_SERVICE_HOST/PORT; the token and CA
 * under /var/run/secrets/kubernetes.io/serviceaccount) as a client; when they cannot be read, a
 * warning naming why and what is lost (`without`), and undefined.
 */
export function inClusterClient(
  env: NodeJS.ProcessEnv,
  log: Logger,
  without: string,
  serviceAccountDir?: string,
): KubeClient | undefined {
  try {
    return sidecarKubeClient(inClusterCredentials(env, serviceAccountDir));
  } catch (err) {
    log.warn({ err: (err as Error).message }, `no in-cluster Kubernetes config: ${without}`);
    return undefined;
  }
}
