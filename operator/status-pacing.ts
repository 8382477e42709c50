// How often a RankingModel's status is written while it only counts progress. A new model goes
// through several statuses before it is Ready — pods pending, then running but not ready, one
// segment ready of two, the router 1/2 ready — each one a status write (3.3 per model at 200 new
// models, more on a loaded machine). They say nothing a person acts on, so a write that changes
// nothing but such progress is held back while the model's last status write is younger than
// PROGRESS_WRITE_INTERVAL_MS; the pass asks to come back when the interval is up, so the latest
// progress still lands (coalesced, never lost). Anything else is written at once: a condition's
// status or reason (Ready turning True, Degraded, a rollout's holding reason), the phase,
// observedGeneration, versions, the rollout fields the next pass resumes from, snapshots.
//
// Progress, and nothing else:
//   - `readySegments`, `scale`, and per segment `readyReplicas` and `currentReplicas`;
//   - the message of Ready while it stays False/ReplicasUnavailable ("segments not ready: ...");
//   - Progressing while it waits for pods (PodsPending ↔ PodsNotReady, with the top-level
//     `reason` that repeats it), its message included;
//   - the message of SnapshotsInSync while no pod has reported yet (SnapshotsNotReported: "1 pod
//     ready without a reported snapshot" as pods come up).
import { ConditionType, Reason } from '../api/conditions.js';
import type { RankingModelStatus } from '../api/rankingmodel.js';
import { statusUnchanged } from './status-compare.js';

// 30 s: at 10 s, a 50-model run still wrote a third status for 43 of 50 models (0/2 → 2/2 with
// the router not ready yet → Ready, 12 s and 14 s after the first); a person watching a model that
// is stuck sees where it is within half a minute, and every change that is news at once.
export const PROGRESS_WRITE_INTERVAL_MS = 30_000;

const WAITING_FOR_PODS: readonly string[] = [Reason.PodsPending, Reason.PodsNotReady];

/** `s` with its progress fields set to placeholders (so two statuses compare equal on the rest). */
function withoutProgress(s: RankingModelStatus): RankingModelStatus {
  const waiting = (reason: string | undefined) =>
    reason !== undefined && WAITING_FOR_PODS.includes(reason) ? 'waiting for pods' : reason;
  return {
    ...s,
    ...(s.readySegments !== undefined ? { readySegments: '-' } : {}),
    ...(s.scale !== undefined ? { scale: '-' } : {}),
    ...(s.reason !== undefined ? { reason: waiting(s.reason) } : {}),
    segments: s.segments?.map((seg) => ({
      ...seg,
      readyReplicas: 0,
      ...(seg.currentReplicas !== undefined ? { currentReplicas: 0 } : {}),
    })),
    conditions: s.conditions?.map((c) => {
      if (c.type === ConditionType.Ready && c.status === 'False' && c.reason === Reason.ReplicasUnavailable)
        return { ...c, message: '-' };
      if (c.type === ConditionType.Progressing && WAITING_FOR_PODS.includes(c.reason))
        return { ...c, reason: 'waiting for pods', message: '-' };
      if (c.type === ConditionType.SnapshotsInSync && c.reason === Reason.SnapshotsNotReported)
        return { ...c, message: '-' };
      return c;
    }),
  };
}

/** `want` differs from `have` in progress fields only (both exist; see the header). */
export function progressOnly(want: RankingModelStatus, have: RankingModelStatus | undefined): boolean {
  if (!have) return false;
  const a = withoutProgress(want);
  const b = withoutProgress(have);
  return statusUnchanged(a, b) && statusUnchanged(b, a);
}

/** When each model's status was last written, by this process. */
export class StatusPacer {
  private readonly lastWrite = new Map<string, number>();

  constructor(private readonly intervalMs = PROGRESS_WRITE_INTERVAL_MS) {}

  /**
   * How long to hold back a write of `want` over `have` (0: write now). Only a progress-only
   * change waits, and only for what is left of the interval since this model's last write.
   */
  holdMs(key: string, want: RankingModelStatus, have: RankingModelStatus | undefined, now: number): number {
    const last = this.lastWrite.get(key);
    if (last === undefined || !progressOnly(want, have)) return 0;
    return Math.max(0, last + this.intervalMs - now);
  }

  wrote(key: string, now: number): void {
    this.lastWrite.set(key, now);
  }

  forget(key: string): void {
    this.lastWrite.delete(key);
  }
}
