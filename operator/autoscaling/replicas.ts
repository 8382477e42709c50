// Who sets a stable Deployment's replicas. A fixed segment: the operator (spec.segments[].replicas).
// An autoscaled one: its autoscaler, through the scale subresource. The operator's server-side
// apply then leaves `spec.replicas` out, so the field belongs to the autoscaler's field manager
// and no apply of the operator resets it.
//
// Dropping a field from an apply removes it when no other manager owns it: a Deployment the
// operator scaled itself would fall back to 1 replica the moment autoscaling is turned on. So the
// first time (the live Deployment lacks the autoscaled annotation) the current count is handed
// over first: applied under a field manager of its own (`lightrank-autoscaling-handover`, as
// Kubernetes' "transferring ownership" guide does for an HPA), then the operator's apply without
// the field leaves it where it is; the autoscaler takes the field over at its first change.
//
// During a rollout the segment's replica count is the stable Deployment's *current* count (what
// the autoscaler set), so the canary's share of a step follows the autoscaled stable, as Argo
// Rollouts does with an HPA.
import type { ResolvedSegment } from '../../api/resolve.js';
import type { Deployment } from '../builders.js';
import { KubeClient } from '../runtime/kube/client.js';
import { DEPLOYMENTS } from '../runtime/kube/types.js';

/** On an autoscaled stable Deployment: which autoscaler sets its replicas (`hpa` or `keda`). */
export const AUTOSCALED_ANNOTATION = 'lightrank.dev/autoscaled-by';
export const HANDOVER_MANAGER = 'lightrank-autoscaling-handover';

function replicasOf(d: Deployment | undefined): number | undefined {
  const r = (d?.spec as { replicas?: unknown } | undefined)?.replicas;
  return typeof r === 'number' ? r : undefined;
}

/**
 * The segment with the stable count it has now: for an autoscaled segment the live stable
 * Deployment's replicas within [minReplicas, maxReplicas] (minReplicas before it exists); a fixed
 * segment unchanged.
 */
export function withCurrentScale(seg: ResolvedSegment, stableLive: Deployment | undefined): ResolvedSegment {
  const a = seg.autoscaling;
  if (!a) return seg;
  const live = replicasOf(stableLive);
  const replicas =
    live === undefined ? a.minReplicas : Math.min(a.maxReplicas, Math.max(a.minReplicas, live));
  return replicas === seg.replicas ? seg : { ...seg, replicas };
}

/** The stable Deployment as the operator applies it: replicas left to the autoscaler when there is one. */
export function leaveReplicasToAutoscaler(d: Deployment, seg: ResolvedSegment): Deployment {
  if (!seg.autoscaling) return d;
  const { replicas: _dropped, ...spec } = d.spec as { replicas?: number };
  return {
    ...d,
    metadata: {
      ...d.metadata,
      annotations: { ...d.metadata.annotations, [AUTOSCALED_ANNOTATION]: seg.autoscaling.engine },
    },
    spec,
  };
}

/**
 * Before the first apply of `desired` without replicas over a Deployment the operator scaled:
 * hand the current count to the handover manager. True when it did.
 */
export async function handOverReplicas(
  client: KubeClient,
  desired: Deployment,
  live: Deployment | undefined,
): Promise<boolean> {
  if (!live || desired.metadata.annotations?.[AUTOSCALED_ANNOTATION] === undefined) return false;
  if (live.metadata.annotations?.[AUTOSCALED_ANNOTATION] !== undefined) return false;
  const replicas = replicasOf(live);
  if (replicas === undefined) return false;
  const { name, namespace } = desired.metadata;
  await client.request({
    verb: 'apply',
    kind: DEPLOYMENTS.kind,
    method: 'PATCH',
    path: KubeClient.path(DEPLOYMENTS, namespace, name),
    body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, spec: { replicas } },
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: HANDOVER_MANAGER, force: true },
  });
  return true;
}
