// What the operator's pod informer keeps of each pod (the cache's transform; see
// runtime/kube/informer.ts): at 1,000 models the pod cache is the operator's largest.
import type { KubeObject } from './runtime/kube/types.js';

interface ContainerStatus {
  name?: string;
  state?: { terminated?: { exitCode?: number; reason?: string; message?: string } };
}

interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/**
 * What the operator reads of a scoring pod: its metadata (labels, the annotations the sidecars
 * write, deletion) and of its status the phase and the conditions (Ready; PodScheduled with the
 * scheduler's reason and message: status.ts), and of a container that ended its exit code, reason
 * and message (a snapshot build's failed shard: build/builds.ts); of the spec only the node. The
 * spec is most of a pod, the managed fields most of the rest, and of the status the rest of the
 * container statuses (images, ids, running states), addresses and times are never read.
 */
export function podForCache(pod: KubeObject): KubeObject {
  const { managedFields: _m, ...metadata } = pod.metadata;
  const spec = pod.spec as { nodeName?: string } | undefined;
  const status = pod.status as
    { phase?: string; conditions?: PodCondition[]; containerStatuses?: ContainerStatus[] } | undefined;
  const ended = (status?.containerStatuses ?? []).filter((c) => c.state?.terminated);
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata,
    ...(spec?.nodeName ? { spec: { nodeName: spec.nodeName } } : {}),
    ...(status
      ? {
          status: {
            ...(status.phase ? { phase: status.phase } : {}),
            ...(status.conditions
              ? {
                  conditions: status.conditions.map(({ type, status, reason, message }) => ({
                    type,
                    status,
                    ...(reason !== undefined ? { reason } : {}),
                    ...(message !== undefined ? { message } : {}),
                  })),
                }
              : {}),
            ...(ended.length
              ? {
                  containerStatuses: ended.map((c) => {
                    const { exitCode, reason, message } = c.state!.terminated!;
                    return { name: c.name, state: { terminated: { exitCode, reason, message } } };
                  }),
                }
              : {}),
          },
        }
      : {}),
  };
}
