// RankingModel condition types, every reason the operator may report in a condition and in an
// Event (one module, so that a reason is never spelled twice), and pure helpers to set conditions the Kubernetes way: the
// lastTransitionTime only moves when the status flips, and an unchanged list compares equal so
// the caller can skip the status write.
import type { Condition } from './rankingmodel.js';

export const ConditionType = {
  /** Every segment has its desired replicas ready on a verified model and snapshot. */
  Ready: 'Ready',
  /** The operator is converging: pods starting, a canary rollout in flight. */
  Progressing: 'Progressing',
  /** Something is wrong while serving continues: unavailable replicas, failed analysis, rollback. */
  Degraded: 'Degraded',
  /** Every segment's ready pods serve one snapshot version (as their sidecars report), none refused. */
  SnapshotsInSync: 'SnapshotsInSync',
  /** A segment's snapshot is being built (spec.snapshot.build): shards done / total in the message. */
  SnapshotBuilding: 'SnapshotBuilding',
  /**
   * Autoscaled segments only: True when a segment cannot have what its autoscaler asks for (pods
   * the scheduler cannot place, no metric to scale on, held at maxReplicas).
   */
  ScaleLimited: 'ScaleLimited',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const Reason = {
  // generic
  Reconciled: 'Reconciled',
  InvalidSpec: 'InvalidSpec',
  ApplyFailed: 'ApplyFailed',
  // readiness of the segments
  DeploymentsReady: 'DeploymentsReady',
  ReplicasUnavailable: 'ReplicasUnavailable',
  PodsPending: 'PodsPending',
  /** Pods scheduled and running, not ready: the server waits for the sidecar's model and snapshot. */
  PodsNotReady: 'PodsNotReady',
  /** Pods the scheduler cannot place (its message says why: resources, taints, selectors). */
  PodsUnschedulable: 'PodsUnschedulable',
  CapacityBlocked: 'CapacityBlocked',
  ScaledToZero: 'ScaledToZero',
  // rollouts
  RolloutInProgress: 'RolloutInProgress',
  RolloutPaused: 'RolloutPaused',
  RolloutPromoted: 'RolloutPromoted',
  RolledBack: 'RolledBack',
  AnalysisPassed: 'AnalysisPassed',
  AnalysisFailed: 'AnalysisFailed',
  AnalysisInconclusive: 'AnalysisInconclusive',
  /** The analysis cannot query Prometheus (unreachable, an error answer): no verdict, the step holds. */
  AnalysisUnavailable: 'AnalysisUnavailable',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  // snapshots and models
  SnapshotsCurrent: 'SnapshotsCurrent',
  SnapshotStale: 'SnapshotStale',
  SnapshotRejected: 'SnapshotRejected',
  SnapshotsNotReported: 'SnapshotsNotReported',
  FingerprintMismatch: 'FingerprintMismatch',
  ModelRejected: 'ModelRejected',
  // snapshot builds (spec.snapshot.build)
  BuildRunning: 'BuildRunning',
  BuildPublishing: 'BuildPublishing',
  BuildPublished: 'BuildPublished',
  BuildFailed: 'BuildFailed',
  /** The canary of a new tower pair waits for the snapshot its item tower is building. */
  WaitingForSnapshot: 'WaitingForSnapshot',
  // autoscaling (ScaleLimited; PodsUnschedulable above when the scheduler cannot place a scale-up)
  /** The autoscaler cannot read its metric (custom metrics API down, no series for the pods). */
  MetricsUnavailable: 'MetricsUnavailable',
  /** The autoscaler wants more than maxReplicas. */
  AtMaxReplicas: 'AtMaxReplicas',
  WithinLimits: 'WithinLimits',
  // routing
  RoutingUnavailable: 'RoutingUnavailable',
  AsExpected: 'AsExpected',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** Event reasons (Events are for people; a condition's reason above says the same thing in status). */
export const EventReason = {
  Created: 'Created',
  Scaled: 'Scaled',
  Updated: 'Updated',
  Deleted: 'Deleted',
  Ready: 'Ready',
  InvalidSpec: 'InvalidSpec',
  ReconcileFailed: 'ReconcileFailed',
  RolloutStarted: 'RolloutStarted',
  RolloutStep: 'RolloutStep',
  RolloutPromoting: 'RolloutPromoting',
  RolloutPromoted: 'RolloutPromoted',
  RolledBack: 'RolledBack',
  CapacityBlocked: 'CapacityBlocked',
  SnapshotBuildStarted: 'SnapshotBuildStarted',
  SnapshotPublished: 'SnapshotPublished',
  SnapshotBuildFailed: 'SnapshotBuildFailed',
  /** a superseded build's publish failed (refused: LATEST names a newer build), its Job removed */
  SnapshotPublishSuperseded: 'SnapshotPublishSuperseded',
  /** a build still running when a newer one started (a new item tower): its shard Job stopped */
  SnapshotBuildSuperseded: 'SnapshotBuildSuperseded',
} as const;
export type EventReason = (typeof EventReason)[keyof typeof EventReason];

export type ConditionStatus = Condition['status'];

/** A condition as the operator computes it; the time is filled in by setCondition. */
export type ConditionInput = Omit<Condition, 'lastTransitionTime'> & { lastTransitionTime?: string };

/** RFC 3339 at second precision, as Kubernetes serialises metav1.Time. */
export function toKubeTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Returns a new list with `next` set: it replaces the condition of the same type (or is appended).
 * The previous lastTransitionTime is kept when the status did not change; otherwise it becomes `now`.
 * The input list is not modified.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: ConditionInput,
  now: Date,
): Condition[] {
  const list = conditions ?? [];
  const prev = list.find((c) => c.type === next.type);
  const lastTransitionTime =
    prev && prev.status === next.status
      ? prev.lastTransitionTime
      : (next.lastTransitionTime ?? toKubeTime(now));
  const merged: Condition = { ...next, lastTransitionTime };
  return prev ? list.map((c) => (c.type === next.type ? merged : c)) : [...list, merged];
}

/** Sets each of `next` in turn (see setCondition). */
export function setConditions(
  conditions: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  now: Date,
): Condition[] {
  return next.reduce<Condition[]>((acc, c) => setCondition(acc, c, now), [...(conditions ?? [])]);
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when the condition of `type` exists and has status True. */
export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

function conditionEqual(a: Condition, b: Condition): boolean {
  return (
    a.type === b.type &&
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.lastTransitionTime === b.lastTransitionTime &&
    (a.observedGeneration ?? null) === (b.observedGeneration ?? null)
  );
}

/** Same conditions, field by field, regardless of order. */
export function conditionsEqual(
  a: readonly Condition[] | undefined,
  b: readonly Condition[] | undefined,
): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  return x.every((c) => {
    const other = y.find((d) => d.type === c.type);
    return other !== undefined && conditionEqual(c, other);
  });
}
