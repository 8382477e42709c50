// What the operator's pod informer keeps of each pod (the cache's transform; see
// runtime/kube/informer.ts): at 1,000 models the pod cache is the operator's largest.
import type { KubeObject } from './runtime/kube/types.js';

/**
 * What the operator reads of a scoring or router pod: its metadata (labels, the annotations the
 * sidecars write, deletion) and status (phase, conditions with the scheduler's reasons); of the
 * spec only the node. The spec is most of a pod and the managed fields most of the rest: at
 * 1,000 models the pod cache is the operator's largest.
 */
export function podForCache(pod: KubeObject): KubeObject {
  const { managedFields: _m, ...metadata } = pod.metadata;
  const spec = pod.spec as { nodeName?: string } | undefined;
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata,
    ...(spec?.nodeName ? { spec: { nodeName: spec.nodeName } } : {}),
    ...(pod.status ? { status: pod.status } : {}),
  };
}
