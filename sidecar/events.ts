// Kubernetes Events for refused or failed syncs, on the sidecar's own Pod (named by the downward
// API: POD_NAME, POD_NAMESPACE, optionally POD_UID), so `kubectl describe pod` and the operator
// see why a snapshot was not taken. Best effort: a failure to record is logged, never thrown.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../lib/logger.js';
import { PodEnv } from '../api/pod-env.js';

export interface EventReporter {
  warn(reason: string, message: string): Promise<void>;
}

export interface PodRef {
  name: string;
  namespace: string;
  uid?: string;
}

/** Events on `pod` through the API server `kubeConfig` points at. */
export function kubeEventReporter(kubeConfig: KubeConfig, pod: PodRef, log: Logger): EventReporter {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  return {
    async warn(reason, message) {
      const now = new Date();
      try {
        await api.createNamespacedEvent({
          namespace: pod.namespace,
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

/** In a pod (downward API env + in-cluster service account): Events; elsewhere: none. */
export function eventReporterFromEnv(env: NodeJS.ProcessEnv, log: Logger): EventReporter | undefined {
  const [name, namespace, uid] = [PodEnv.PodName, PodEnv.PodNamespace, PodEnv.PodUid].map((k) => env[k]);
  const { KUBERNETES_SERVICE_HOST } = env;
  if (!name || !namespace || !KUBERNETES_SERVICE_HOST) return undefined;
  try {
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return kubeEventReporter(kc, { name, namespace, ...(uid ? { uid } : {}) }, log);
  } catch (err) {
    log.warn(
      { err: (err as Error).message },
      'no in-cluster Kubernetes config: sync failures will not be Events',
    );
    return undefined;
  }
}
