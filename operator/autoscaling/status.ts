// What the status says about autoscaled segments (operator/status.ts calls these; they are pure):
//   - the segment fields: replicas = what the autoscaler asks for, currentReplicas = the pods the
//     stable Deployment has, autoscaler = which object sets them;
//   - the `scale` printer column (-o wide): desired/current per segment;
//   - the ScaleLimited condition, one verdict with its precedence written down:
//       1. PodsUnschedulable  the autoscaler asks for more pods than are ready and stable pods sit
//                             unscheduled (the scheduler's own words: no free GPU, taints, ...);
//       2. MetricsUnavailable the HPA cannot read its metric (ScalingActive=False): it cannot scale;
//       3. AtMaxReplicas      the HPA wants more than maxReplicas (ScalingLimited/TooManyReplicas);
//       otherwise False/WithinLimits with each segment's desired/ready and bounds.
import { Reason } from '../../api/conditions.js';
import type { Condition, SegmentStatus } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import { LABEL_TRACK, type Deployment } from '../builders.js';
import type { KubeObject } from '../runtime/kube/types.js';

/** What a segment's autoscaler reports (from its status), as the reconciler read it. */
export interface AutoscalerObservation {
  /** `HorizontalPodAutoscaler/<name>` or `ScaledObject/<name>`. */
  ref: string;
  /** The HPA's status.desiredReplicas (undefined before its first decision, and for KEDA). */
  desiredReplicas?: number;
  /** Why the autoscaler cannot scale or is held (its own conditions' reasons and messages). */
  problems: { kind: 'metrics' | 'max'; message: string }[];
}

export interface AutoscaledObservation {
  segment: ResolvedSegment;
  deployment: Deployment | undefined;
  pods?: readonly KubeObject[];
  autoscaler?: AutoscalerObservation;
}

type HpaStatus = {
  desiredReplicas?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
};

/** Reads an HPA's (or ScaledObject's) status into an observation. */
export function observeAutoscaler(
  kind: string,
  name: string,
  live: KubeObject | undefined,
): AutoscalerObservation {
  const st = (live?.status as HpaStatus | undefined) ?? {};
  const problems: AutoscalerObservation['problems'] = [];
  for (const c of st.conditions ?? []) {
    if (kind !== 'HorizontalPodAutoscaler') break;
    if (c.type === 'ScalingActive' && c.status === 'False' && c.reason !== 'ScalingDisabled')
      problems.push({ kind: 'metrics', message: `${c.reason ?? 'ScalingActive=False'}: ${c.message ?? ''}` });
    if (c.type === 'ScalingLimited' && c.status === 'True' && c.reason === 'TooManyReplicas')
      problems.push({ kind: 'max', message: c.message ?? 'the desired count is more than maxReplicas' });
  }
  return {
    ref: `${kind}/${name}`,
    // 0 before the HPA's first decision (its minReplicas is at least 1): not a wish yet
    ...(typeof st.desiredReplicas === 'number' && st.desiredReplicas > 0
      ? { desiredReplicas: st.desiredReplicas }
      : {}),
    problems,
  };
}

interface DeploymentCounts {
  spec?: { replicas?: number };
  status?: { replicas?: number; readyReplicas?: number };
}

const counts = (d: Deployment | undefined) => (d ?? {}) as DeploymentCounts;

/** Pods the segment should have: its autoscaler's wish when it has made one, else the Deployment's. */
export function desiredReplicas(o: AutoscaledObservation): number {
  if (!o.segment.autoscaling) return o.segment.replicas;
  return o.autoscaler?.desiredReplicas ?? counts(o.deployment).spec?.replicas ?? o.segment.replicas;
}

export function currentReplicas(o: AutoscaledObservation): number {
  return counts(o.deployment).status?.replicas ?? 0;
}

/** The autoscaled segment's status fields (nothing for a fixed segment). */
export function autoscaledFields(o: AutoscaledObservation): Partial<SegmentStatus> {
  if (!o.segment.autoscaling) return {};
  return {
    replicas: desiredReplicas(o),
    currentReplicas: currentReplicas(o),
    ...(o.autoscaler ? { autoscaler: o.autoscaler.ref } : {}),
  };
}

/** e.g. "standard=4/2,shopping=1/1"; "4/2" for a model of one segment. */
export function scaleColumn(observations: readonly AutoscaledObservation[]): string {
  const text = (o: AutoscaledObservation) => `${desiredReplicas(o)}/${currentReplicas(o)}`;
  if (observations.length === 1) return text(observations[0]!);
  return observations.map((o) => `${o.segment.name}=${text(o)}`).join(',');
}

interface PodScheduling {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** The scheduler's reasons for the segment's unscheduled stable pods, each with its pod count. */
function unscheduledStable(o: AutoscaledObservation): { n: number; message: string }[] {
  const byMessage = new Map<string, number>();
  for (const p of o.pods ?? []) {
    if (p.metadata.deletionTimestamp || p.metadata.labels?.[LABEL_TRACK] === 'canary') continue;
    const c = (p as PodScheduling).status?.conditions?.find((x) => x.type === 'PodScheduled');
    if (c?.status !== 'False' || c.reason !== 'Unschedulable') continue;
    const m = c.message ?? 'no message';
    byMessage.set(m, (byMessage.get(m) ?? 0) + 1);
  }
  return [...byMessage].map(([message, n]) => ({ n, message }));
}

export type ScaleVerdict = Pick<Condition, 'status' | 'reason' | 'message'>;

/** The ScaleLimited verdict, or undefined when no segment is autoscaled (no condition then). */
export function scaleLimited(observations: readonly AutoscaledObservation[]): ScaleVerdict | undefined {
  const auto = observations.filter((o) => o.segment.autoscaling);
  if (!auto.length) return undefined;
  const unplaced: string[] = [];
  const metrics: string[] = [];
  const maxed: string[] = [];
  for (const o of auto) {
    const name = o.segment.name;
    const want = desiredReplicas(o);
    const ready = counts(o.deployment).status?.readyReplicas ?? 0;
    const stuck = unscheduledStable(o);
    if (want > ready && stuck.length)
      unplaced.push(
        `${name}: the autoscaler wants ${want} pods, ${ready} ready; ${stuck
          .map((s) => `${s.n} pod(s) cannot be scheduled: ${s.message}`)
          .join('; ')}`,
      );
    for (const p of o.autoscaler?.problems ?? []) {
      if (p.kind === 'metrics')
        metrics.push(`${name}: ${o.autoscaler!.ref} cannot read its metric: ${p.message}`);
      else maxed.push(`${name}: held at maxReplicas ${o.segment.autoscaling!.maxReplicas}: ${p.message}`);
    }
  }
  if (unplaced.length)
    return { status: 'True', reason: Reason.PodsUnschedulable, message: unplaced.join('; ') };
  if (metrics.length)
    return { status: 'True', reason: Reason.MetricsUnavailable, message: metrics.join('; ') };
  if (maxed.length) return { status: 'True', reason: Reason.AtMaxReplicas, message: maxed.join('; ') };
  return {
    status: 'False',
    reason: Reason.WithinLimits,
    message: auto
      .map((o) => {
        const a = o.segment.autoscaling!;
        const ready = counts(o.deployment).status?.readyReplicas ?? 0;
        return `${o.segment.name}: ${ready}/${desiredReplicas(o)} ready (${a.minReplicas}-${a.maxReplicas})`;
      })
      .join('; '),
  };
}
