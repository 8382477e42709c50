// The rollout part of the RankingModel status, laid over the status the core computes
// (operator/status.ts) for the stable Deployments: per segment the rollout fields, the
// rolloutPhase and phase summaries, and the Progressing / Degraded conditions of a rollout in
// flight, blocked, paused or rolled back. Conditions keep their lastTransitionTime while their
// status holds, so an unchanged rollout compares equal and its status write is skipped.
import {
  ConditionType,
  Reason,
  findCondition,
  setConditions,
  type ConditionInput,
} from '../../api/conditions.js';
import type { RankingModel, RankingModelStatus, RolloutPhase } from '../../api/rankingmodel.js';
import type { SegmentRolloutState } from './segment.js';

/** Reasons a Degraded condition of a rolled-back segment may carry (kept while it stays rolled back). */
const ROLLBACK_REASONS: readonly string[] = [
  Reason.RolledBack,
  Reason.AnalysisFailed,
  Reason.AnalysisInconclusive,
  Reason.ProgressDeadlineExceeded,
  Reason.CapacityBlocked,
];

export function overlayRolloutStatus(
  model: RankingModel,
  base: RankingModelStatus,
  states: readonly SegmentRolloutState[],
  now: Date,
): RankingModelStatus {
  const generation = model.metadata.generation ?? 0;
  const bySegment = new Map(states.map((s) => [s.name, s]));
  const segments = (base.segments ?? []).map((seg) => {
    const r = bySegment.get(seg.name);
    if (!r) return seg;
    const inFlight = r.phase === 'Progressing';
    // replicas / readyReplicas stay the stable track's (operator/status.ts): the canary's pods
    // are not counted, or a 1-replica segment would read 2 ready of 1 during a rollout
    return {
      ...seg,
      stableVersion: r.stableVersion,
      ...(r.phase !== 'Stable' && r.canaryVersion ? { canaryVersion: r.canaryVersion } : {}),
      canaryWeight: r.canaryWeight,
      rolloutPhase: r.phase,
      ...(inFlight && r.rolloutStep !== undefined ? { rolloutStep: r.rolloutStep } : {}),
      ...(inFlight && r.stepStartTime ? { stepStartTime: r.stepStartTime } : {}),
      ...(r.canaryScaleDownAt ? { canaryScaleDownAt: r.canaryScaleDownAt } : {}),
      ...(r.lastAnalysis ? { lastAnalysis: r.lastAnalysis } : {}),
    };
  });
  const progressing = states.filter((s) => s.phase === 'Progressing');
  const rolledBack = states.filter((s) => s.phase === 'RolledBack');
  const failing = states.filter((s) => s.failure && s.phase !== 'RolledBack');
  const rolloutPhase: RolloutPhase = progressing.length
    ? 'Progressing'
    : rolledBack.length
      ? 'RolledBack'
      : 'Stable';

  const conditions: ConditionInput[] = [];
  const cond = (type: string, status: 'True' | 'False', reason: string, message: string) =>
    conditions.push({ type, status, reason, message, observedGeneration: generation });
  if (progressing.length) {
    const blocked = progressing.filter((s) => s.holding?.reason === Reason.CapacityBlocked);
    const paused = progressing.filter((s) => s.holding?.reason === Reason.RolloutPaused);
    const describe = (s: SegmentRolloutState) =>
      `${s.name}: ${s.holding?.message ?? `canary ${s.canaryVersion} at ${s.canaryWeight}%`}`;
    if (blocked.length)
      // not progressing, and why, with numbers: the canary cannot be placed
      cond(ConditionType.Progressing, 'False', Reason.CapacityBlocked, blocked.map(describe).join('; '));
    else if (paused.length === progressing.length)
      cond(ConditionType.Progressing, 'True', Reason.RolloutPaused, progressing.map(describe).join('; '));
    else
      cond(ConditionType.Progressing, 'True', Reason.RolloutInProgress, progressing.map(describe).join('; '));
  } else if (states.some((s) => s.promoted)) {
    cond(
      ConditionType.Progressing,
      'False',
      Reason.RolloutPromoted,
      states
        .filter((s) => s.promoted)
        .map((s) => `${s.name}: ${s.stableVersion} promoted`)
        .join('; '),
    );
  }
  const previous = findCondition(model.status?.conditions, ConditionType.Degraded);
  if (rolledBack.length || failing.length) {
    const fresh = [...rolledBack, ...failing].find((s) => s.failure);
    const kept =
      previous?.status === 'True' && ROLLBACK_REASONS.includes(previous.reason) ? previous : undefined;
    const reason = fresh?.failure?.reason ?? kept?.reason ?? Reason.RolledBack;
    const message =
      [...rolledBack, ...failing]
        .map((s) => (s.failure ? `${s.name}: ${s.failure.message}` : undefined))
        .filter(Boolean)
        .join('; ') ||
      kept?.message ||
      rolledBack.map((s) => `${s.name}: ${s.canaryVersion} rolled back to ${s.stableVersion}`).join('; ');
    cond(ConditionType.Degraded, 'True', reason, message);
  }
  const versions = [...new Set(segments.map((s) => s.stableVersion).filter(Boolean))];
  const phase =
    base.phase === 'Failed'
      ? base.phase
      : rolledBack.length || failing.length
        ? 'Degraded'
        : progressing.length
          ? 'Progressing'
          : base.phase;
  return {
    ...base,
    phase,
    modelVersion: versions.join(','),
    rolloutPhase,
    segments,
    // re-set against the stored conditions so unchanged ones keep their transition time
    conditions: setConditions(
      model.status?.conditions,
      [
        ...(base.conditions ?? []).filter((c) => !conditions.some((o) => o.type === c.type)),
        ...conditions,
      ].map(({ lastTransitionTime: _t, ...c }) => c),
      now,
    ),
  };
}
