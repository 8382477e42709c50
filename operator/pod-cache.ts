// What the operator's pod informer keeps of each pod (the cache's transform; see
// runtime/kube/informer.ts): at 1,000 models the pod cache is the operator's largest.
import type { KubeObject } from './runtime/kube/types.js';

interface ContainerStatus {
  name?: string;
  state?: {
    terminated?: { exitCode?: number; reason?: string; message?: string };
    waiting?: { reason?: string; message?: string };
  };
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
 * scheduler's reason and message: status.ts), of a container that ended its exit code, reason
 * and message (a snapshot build's failed shard: build/builds.ts), and of one stuck waiting
 * (STUCK_WAITING_REASONS) its reason and message; of the spec only the node. The
 * spec is most of a pod, the managed fields most of the rest, and of the status the rest of the
 * container statuses (images, ids, running states), addresses and times are never read.
 */
/**
 * Waiting reasons that will not pass by themselves (a missing Secret, an image that cannot be
 * had): a build's pod stuck on one is named in the build's status (build/builds.ts).
 */
export const STUCK_WAITING_REASONS = new Set([
  'CreateContainerConfigError',
  'CreateContainerError',
  'InvalidImageName',
  'ErrImagePull',
  'ImagePullBackOff',
  'ErrImageNeverPull',
]);

export function podForCache(pod: KubeObject): KubeObject {
  const { managedFields: _m, ...metadata } = pod.metadata;
  const spec = pod.spec as { nodeName?: string } | undefined;
  const status = pod.status as
    { phase?: string; conditions?: PodCondition[]; containerStatuses?: ContainerStatus[] } | undefined;
  const ended = (status?.containerStatuses ?? []).filter(
    (c) => c.state?.terminated || STUCK_WAITING_REASONS.has(c.state?.waiting?.reason ?? ''),
  );
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
                    if (!c.state!.terminated) {
                      const { reason, message } = c.state!.waiting!;
                      return { name: c.name, state: { waiting: { reason, message } } };
                    }
                    const { exitCode, reason, message } = c.state!.terminated;
                    return { name: c.name, state: { terminated: { exitCode, reason, message } } };
                  }),
                }
              : {}),
          },
        }
      : {}),
  };
}
