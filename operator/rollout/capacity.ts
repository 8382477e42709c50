// GPU budget check before a canary is scaled up: how many of the GPU resource are free on the
// nodes a scoring pod of this segment could land on. A node counts when it is schedulable,
// matches the pod's nodeSelector and every NoSchedule/NoExecute taint is tolerated; its free GPUs
// are its allocatable minus the requests of the pods bound to it that have not finished.
// (Affinity rules are not evaluated: they narrow the nodes further, which the scheduler still
// enforces; the deadline catches a canary that stays Pending anyway.)
import type { KubeClient } from '../runtime/kube/client.js';
import type { KubeObject } from '../runtime/kube/types.js';
import type { ResolvedServing } from '../../api/resolve.js';
import { parseQuantity } from '../runtime/apply.js';
import { NODES, PODS } from '../runtime/kube/types.js';

interface Taint {
  key: string;
  value?: string;
  effect: string;
}
interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}
type Node = KubeObject & {
  spec?: { unschedulable?: boolean; taints?: Taint[] };
  status?: { allocatable?: Record<string, string> };
};
type Container = { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } };
type Pod = KubeObject & {
  spec?: { nodeName?: string; containers?: Container[]; initContainers?: Container[] };
  status?: { phase?: string };
};

export interface Capacity {
  resource: string;
  /** Nodes a pod of the segment may be scheduled on. */
  nodes: number;
  allocatable: number;
  requested: number;
  free: number;
}

export function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  if (taint.effect === 'PreferNoSchedule') return true;
  return tolerations.some(
    (t) =>
      (!t.effect || t.effect === taint.effect) &&
      (t.key === undefined || t.key === '' ? t.operator === 'Exists' : t.key === taint.key) &&
      (t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '')),
  );
}

function amount(q: string | undefined): number {
  return q === undefined ? 0 : (parseQuantity(q) ?? 0);
}

/** What a pod requests of `resource` (extended resources: limits, which requests must equal). */
export function podRequest(pod: Pod, resource: string): number {
  const of = (c: Container) => amount(c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource]);
  const main = (pod.spec?.containers ?? []).reduce((s, c) => s + of(c), 0);
  const init = (pod.spec?.initContainers ?? []).reduce((m, c) => Math.max(m, of(c)), 0);
  return Math.max(main, init);
}

/** Pure: the capacity for pods with this nodeSelector and these tolerations. */
export function computeCapacity(
  nodes: readonly Node[],
  pods: readonly Pod[],
  resource: string,
  nodeSelector: Record<string, string>,
  tolerations: readonly Toleration[],
): Capacity {
  const eligible = nodes.filter(
    (n) =>
      !n.spec?.unschedulable &&
      amount(n.status?.allocatable?.[resource]) > 0 &&
      Object.entries(nodeSelector).every(([k, v]) => n.metadata.labels?.[k] === v) &&
      (n.spec?.taints ?? []).every((t) => tolerates(tolerations, t)),
  );
  const names = new Set(eligible.map((n) => n.metadata.name));
  const allocatable = eligible.reduce((s, n) => s + amount(n.status?.allocatable?.[resource]), 0);
  const requested = pods
    .filter((p) => p.spec?.nodeName && names.has(p.spec.nodeName))
    .filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .reduce((s, p) => s + podRequest(p, resource), 0);
  return {
    resource,
    nodes: eligible.length,
    allocatable,
    requested,
    free: Math.max(0, allocatable - requested),
  };
}

/** Reads nodes and pods (cluster-wide: GPUs are shared across namespaces) and computes the capacity. */
export async function readCapacity(
  client: KubeClient,
  serving: ResolvedServing,
  tolerations: readonly Toleration[],
): Promise<Capacity> {
  const nodes = (await client.list<Node>(NODES, undefined)).items;
  const pods = (
    await client.request<{ items: Pod[] }>({
      verb: 'list',
      kind: PODS.kind,
      method: 'GET',
      path: '/api/v1/pods',
      query: { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' },
    })
  ).items;
  return computeCapacity(nodes, pods, serving.gpu.resourceName, serving.nodeSelector ?? {}, tolerations);
}

export function describeShortfall(c: Capacity, needed: number, pods: number, perPod: number): string {
  return `canary needs ${needed} ${c.resource} (${pods} pod(s) × ${perPod}); ${c.free} free on ${c.nodes} eligible node(s) (${c.allocatable} allocatable, ${c.requested} requested)`;
}
