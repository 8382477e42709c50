// Whether a RankingModel status the reconciler derived is already the live one, for the
// operator's purposes (operator/status.ts derives it; reconciler.ts skips the write when equal).
import { isSubset } from './runtime/apply.js';
import type { RankingModelStatus } from '../api/rankingmodel.js';

/** Segment fields without a default that a pass may drop (a subset compare cannot see them go). */
const DROPPABLE_SEGMENT_FIELDS = [
  'canaryVersion',
  'rolloutStep',
  'stepStartTime',
  'canaryScaleDownAt',
  'snapshotVersion',
  'snapshotTime',
  'snapshotBuild',
  'currentReplicas',
  'autoscaler',
] as const;

/** Top-level fields a pass may drop (the printer columns of a rollout that ended). */
const DROPPABLE_FIELDS = ['canary', 'step', 'analysis', 'reason'] as const;

/** Equal for the operator's purposes: every field it sets matches, with the same conditions and segments. */
export function statusUnchanged(want: RankingModelStatus, have: RankingModelStatus | undefined): boolean {
  if (!have) return false;
  if (DROPPABLE_FIELDS.some((f) => have[f] !== undefined && want[f] === undefined)) return false;
  const wanted = new Map((want.segments ?? []).map((s) => [s.name, s]));
  const dropped = (have.segments ?? []).some((h) =>
    DROPPABLE_SEGMENT_FIELDS.some((f) => h[f] !== undefined && wanted.get(h.name)?.[f] === undefined),
  );
  if (dropped) return false;
  const types = (s: RankingModelStatus) =>
    (s.conditions ?? [])
      .map((c) => c.type)
      .sort()
      .join(',');
  const names = (s: RankingModelStatus) =>
    (s.segments ?? [])
      .map((c) => c.name)
      .sort()
      .join(',');
  return (
    types(want) === types(have) &&
    names(want) === names(have) &&
    isSubset(JSON.parse(JSON.stringify(want)), have)
  );
}
