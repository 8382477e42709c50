// The build's part of the RankingModel status, set after the rest is derived (status.ts): each
// segment's snapshotBuild, and the SnapshotBuilding condition — True while a build runs (shards
// done / total, items and items/s of the finished shards), False once the latest builds are published or one failed (the shard and its
// cause), absent for a model that builds nothing.
import { ConditionType, Reason, setCondition } from '../../api/conditions.js';
import type { RankingModel, RankingModelStatus, SnapshotBuildStatus } from '../../api/rankingmodel.js';

/** ", 120000 items, 4000 items/s" once a finished shard has reported (builds.ts: progress). */
const rate = (b: SnapshotBuildStatus) =>
  b.itemsDone !== undefined ? `, ${b.itemsDone} items, ${b.itemsPerSecond ?? 0} items/s` : '';

export function withBuildStatus(
  status: RankingModelStatus,
  model: RankingModel,
  builds: Map<string, SnapshotBuildStatus>,
  held: string[],
  now: Date,
): RankingModelStatus {
  if (builds.size === 0) return status;
  const segments = (status.segments ?? []).map((s) => {
    const b = builds.get(s.name);
    return b ? { ...s, snapshotBuild: b } : s;
  });
  const entries = [...builds.entries()];
  const running = entries.filter(([, b]) => b.phase === 'Building' || b.phase === 'Publishing');
  const failed = entries.filter(([, b]) => b.phase === 'Failed');
  const waiting = held.length ? `; the canary of ${held.join(', ')} waits for its snapshot` : '';
  const say = ([name, b]: [string, SnapshotBuildStatus]) =>
    b.phase === 'Building'
      ? `segment ${name}: building ${b.version}, ${b.shardsDone}/${b.shards} shards done${rate(b)}${b.message ? `; ${b.message}` : ''}`
      : b.phase === 'Publishing'
        ? `segment ${name}: publishing ${b.version} (${b.shards}/${b.shards} shards done${rate(b)})${b.message ? `; ${b.message}` : ''}`
        : b.phase === 'Failed'
          ? `segment ${name}: build ${b.version} failed: ${b.message ?? ''}`
          : `segment ${name}: ${b.version} published`;
  const condition = running.length
    ? {
        status: 'True' as const,
        reason: running.some(([, b]) => b.phase === 'Building')
          ? Reason.BuildRunning
          : Reason.BuildPublishing,
        message: running.map(say).join('; ') + waiting,
      }
    : failed.length
      ? {
          status: 'False' as const,
          reason: Reason.BuildFailed,
          message: failed.map(say).join('; ') + waiting,
        }
      : { status: 'False' as const, reason: Reason.BuildPublished, message: entries.map(say).join('; ') };
  const prev = model.status?.conditions?.find((c) => c.type === ConditionType.SnapshotBuilding);
  const base = [
    ...(status.conditions ?? []).filter((c) => c.type !== ConditionType.SnapshotBuilding),
    ...(prev ? [prev] : []),
  ];
  const conditions = setCondition(
    base,
    {
      type: ConditionType.SnapshotBuilding,
      ...condition,
      message: condition.message.slice(0, 4096),
      ...(model.metadata.generation !== undefined ? { observedGeneration: model.metadata.generation } : {}),
    },
    now,
  );
  return { ...status, segments, conditions };
}
