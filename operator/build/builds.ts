// The snapshot-build step of the reconcile (spec.snapshot.build), level-based: the build's state
// lives in status (segments[].snapshotBuild: version, phase, Job, shards done); each pass reads
// the build's Jobs from the cache and moves it on:
//
//   start (a new item tower, or the schedule is due) → Building: the shard Job (Indexed); items
//     done and items/s from the finished shards' own reports (their termination messages)
//     → every index succeeded → Publishing: the publish Job → Published (LATEST moved)
//     → an index out of retries, or publish refused → Failed (LATEST unmoved; the shard's own
//       message, from its pod's termination message, in status and a Warning Event)
//
// Decisions (docs/embed.md):
//  - The schedule is the operator's own (croner evaluates the cron expression, UTC), not a
//    CronJob: a build is two Jobs and a status, and a CronJob could start only the first.
//  - A build of the spec's item tower starts when the tower (sha256 or fingerprint) differs from
//    the last build's, if onModelChange; a newer tower supersedes a build in flight. A failed
//    build is not retried by itself: the next schedule, or a new tower, starts another.
//  - The canary of a new tower pair waits for its paired snapshot (gate.ts).
//  - A superseded build whose publish Job was already there can still run it; publish refuses to
//    move LATEST back to an older version (embed/latest-order.ts) and fails without retry. Such a
//    failed publish Job of a version other than the current build's is reported once, as a
//    Warning Event SnapshotPublishSuperseded with its pod's words, and then deleted: it is not
//    the segment's build any more, so it touches neither status nor the SnapshotBuilding
//    condition, and deleting it is what keeps the next pass from reporting it again.
//
// API:
//   new SnapshotBuilds(deps).reconcile(model, segments, regarding, log, now) → BuildOutcome
//   countIndexes('0-2,5') → 4
import { Cron } from 'croner';
import { EventReason } from '../../api/conditions.js';
import { toKubeTime } from '../../api/conditions.js';
import type { RankingModel, SnapshotBuildStatus } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import type { Logger } from '../../lib/logger.js';
import type { EventRecorder } from '../runtime/events.js';
import type { Informer } from '../runtime/kube/informer.js';
import type { OwnedObjects } from '../runtime/kube/owned.js';
import { JOBS, type KubeObject } from '../runtime/kube/types.js';
import {
  LABEL_BUILD_SEGMENT,
  LABEL_BUILD_STEP,
  LABEL_BUILD_VERSION,
  buildPublishJob,
  buildShardJob,
  buildVersion,
  publishJobName,
  shardJobName,
  type BuildJobOptions,
  type Job,
} from './objects.js';

type Regarding = KubeObject & { apiVersion: string; kind: string };

export interface BuildDeps {
  owned: OwnedObjects;
  /** the operator's pods cache: build pods carry the managed-by label too */
  pods: Informer<KubeObject>;
  events: EventRecorder;
  defaults: BuildJobOptions;
}

export interface BuildOutcome {
  /** per segment with a build: its build status as it is after this pass */
  builds: Map<string, SnapshotBuildStatus>;
  /** when to look again (a build in flight, the next scheduled build) */
  requeueAfterMs: number | undefined;
}

/** How many indexes a Job's completedIndexes / failedIndexes ("0-2,5") names. */
export function countIndexes(list: string | undefined): number {
  if (!list) return 0;
  return list.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a! + 1);
  }, 0);
}

const conditionOf = (job: Job | undefined, type: string) =>
  job?.status?.conditions?.find((c) => c.type === type && c.status === 'True');

const IN_FLIGHT_POLL_MS = 5_000;

/** The build with `message` naming a stuck pod, or without a message when none is stuck. */
function withStuck(b: SnapshotBuildStatus, stuck: string | undefined): SnapshotBuildStatus {
  const { message: _old, ...rest } = b;
  return stuck ? { ...rest, message: stuck.slice(0, 1000) } : rest;
}

/** The item count a succeeded shard's pod reports in its termination message ({"items": n, …}). */
function reportedItems(pod: KubeObject): number | undefined {
  const statuses = (pod.status as { containerStatuses?: { state?: { terminated?: { message?: string } } }[] })
    ?.containerStatuses;
  const message = statuses?.[0]?.state?.terminated?.message;
  if (!message) return undefined;
  try {
    const items = (JSON.parse(message) as { items?: unknown }).items;
    return typeof items === 'number' && Number.isInteger(items) && items >= 0 ? items : undefined;
  } catch {
    return undefined;
  }
}

export class SnapshotBuilds {
  constructor(private readonly deps: BuildDeps) {}

  async reconcile(
    model: RankingModel,
    segments: ResolvedSegment[],
    regarding: Regarding,
    log: Logger,
    now: Date,
  ): Promise<BuildOutcome> {
    const builds = new Map<string, SnapshotBuildStatus>();
    let requeueAfterMs: number | undefined;
    const soonest = (ms: number) => (requeueAfterMs = Math.min(requeueAfterMs ?? ms, Math.max(ms, 1000)));
    for (const seg of segments) {
      const build = seg.snapshot.build;
      const tower = seg.model.itemTower;
      if (!build || !tower) continue;
      const prev = model.status?.segments?.find((s) => s.name === seg.name)?.snapshotBuild;
      let cur = prev;
      const ofTower = (b: SnapshotBuildStatus) =>
        b.itemTowerSha256 === tower.sha256 && b.towerFingerprint === seg.model.towerFingerprint;
      const start = (trigger: SnapshotBuildStatus['trigger']): SnapshotBuildStatus => {
        const version = buildVersion(tower.sha256, now);
        return {
          version,
          towerFingerprint: seg.model.towerFingerprint,
          itemTowerSha256: tower.sha256,
          trigger,
          phase: 'Building',
          job: shardJobName(model.metadata.name, seg.name, version),
          shards: build.shards,
          shardsDone: 0,
          startTime: toKubeTime(now),
        };
      };
      const inFlight = cur !== undefined && (cur.phase === 'Building' || cur.phase === 'Publishing');
      if (build.onModelChange && (!cur || !ofTower(cur))) {
        cur = start('ModelChange');
      } else if (build.schedule && !inFlight) {
        const since = cur
          ? new Date(cur.startTime)
          : new Date(String(model.metadata.creationTimestamp ?? now));
        const next = new Cron(build.schedule, { timezone: 'UTC', paused: true }).nextRun(since);
        if (next && next.getTime() <= now.getTime()) cur = start('Schedule');
        else if (next) soonest(next.getTime() - now.getTime());
      }
      if (!cur) continue;
      if (cur !== prev) {
        log.info({ segment: seg.name, version: cur.version, trigger: cur.trigger }, 'snapshot build started');
        await this.deps.events.record(regarding, {
          type: 'Normal',
          reason: EventReason.SnapshotBuildStarted,
          message: `segment ${seg.name}: building snapshot ${cur.version} (${cur.trigger === 'ModelChange' ? 'new item tower' : 'scheduled'}) in ${cur.shards} shards, Job ${cur.job}`,
        });
      }
      cur = await this.advance(model, seg, cur, regarding, log, now);
      await this.stopSuperseded(model, seg, cur, regarding, log);
      await this.reportSuperseded(model, seg, cur, regarding, log);
      if (cur.phase === 'Building' || cur.phase === 'Publishing') soonest(IN_FLIGHT_POLL_MS);
      builds.set(seg.name, cur);
    }
    return { builds, requeueAfterMs };
  }

  /** Moves a build on from what its Jobs say; creates the Job its phase needs when it is missing. */
  private async advance(
    model: RankingModel,
    seg: ResolvedSegment,
    cur: SnapshotBuildStatus,
    regarding: Regarding,
    log: Logger,
    now: Date,
  ): Promise<SnapshotBuildStatus> {
    const ns = model.metadata.namespace;
    const { owned, defaults } = this.deps;
    if (cur.phase === 'Building') {
      const job = owned.peek<Job>(JOBS, ns, cur.job);
      // a Job's template is immutable: created once, then only read
      if (!job) {
        await owned.apply(JOBS, buildShardJob(model, seg, cur.version, defaults));
        return cur;
      }
      const shardsDone = countIndexes(job.status?.completedIndexes);
      const progress = this.progress(job, cur, now);
      if (conditionOf(job, 'Failed'))
        return this.fail(seg, { ...cur, shardsDone, ...progress }, job, regarding, log, now);
      if (!conditionOf(job, 'Complete'))
        return withStuck({ ...cur, shardsDone, ...progress }, this.stuck(job, 'shard'));
      cur = withStuck({ ...cur, shardsDone: cur.shards, ...progress, phase: 'Publishing' }, undefined);
    }
    if (cur.phase === 'Publishing') {
      const name = publishJobName(model.metadata.name, seg.name, cur.version);
      const job = owned.peek<Job>(JOBS, ns, name);
      if (!job) {
        await owned.apply(JOBS, buildPublishJob(model, seg, cur.version, defaults));
        return cur;
      }
      if (conditionOf(job, 'Failed')) return this.fail(seg, cur, job, regarding, log, now);
      if (!conditionOf(job, 'Complete')) return withStuck(cur, this.stuck(job, 'publish'));
      const done: SnapshotBuildStatus = {
        ...cur,
        phase: 'Published',
        completionTime: toKubeTime(now),
        message: `published ${cur.version} from ${cur.shards} shards in ${Math.round((now.getTime() - Date.parse(cur.startTime)) / 1000)} s${cur.itemsDone !== undefined ? ` (${cur.itemsDone} items; shards at ${cur.itemsPerSecond ?? 0} items/s)` : ''}`,
      };
      log.info({ segment: seg.name, version: cur.version }, 'snapshot published');
      await this.deps.events.record(regarding, {
        type: 'Normal',
        reason: EventReason.SnapshotPublished,
        message: `segment ${seg.name}: ${done.message}`,
      });
      return done;
    }
    return cur;
  }

  /** The model's Jobs of one step of this segment's builds other than `cur` that pass `keep` (cache reads). */
  private othersJobs(
    model: RankingModel,
    seg: ResolvedSegment,
    cur: SnapshotBuildStatus,
    step: 'shard' | 'publish',
    keep: (job: Job) => boolean,
  ): Promise<Job[]> {
    return this.deps.owned.list<Job>(
      JOBS,
      model.metadata.namespace,
      `${LABEL_BUILD_SEGMENT}=${seg.name},${LABEL_BUILD_STEP}=${step}`,
      (j) => {
        const l = j.metadata.labels ?? {};
        return (
          l[LABEL_BUILD_SEGMENT] === seg.name &&
          l[LABEL_BUILD_STEP] === step &&
          l[LABEL_BUILD_VERSION] !== cur.version &&
          j.metadata.ownerReferences?.some((o) => o.uid === model.metadata.uid) === true &&
          keep(j)
        );
      },
    );
  }

  /**
   * Shard Jobs of this segment's other builds still running (a newer item tower started a build,
   * or a pass that created the Job died before status named it): deleted with their pods, with an
   * Event each, so no GPU keeps embedding a catalogue nobody will publish. Level-based: whatever
   * pass sees one stops it. Finished Jobs stay, as the current build's do.
   */
  private async stopSuperseded(
    model: RankingModel,
    seg: ResolvedSegment,
    cur: SnapshotBuildStatus,
    regarding: Regarding,
    log: Logger,
  ): Promise<void> {
    const ns = model.metadata.namespace;
    const jobs = await this.othersJobs(
      model,
      seg,
      cur,
      'shard',
      (j) => !conditionOf(j, 'Complete') && !conditionOf(j, 'Failed'),
    );
    for (const job of jobs) {
      const version = job.metadata.labels![LABEL_BUILD_VERSION]!;
      const done = countIndexes(job.status?.completedIndexes);
      if (!(await this.deps.owned.deleteIfPresent(JOBS, ns, job.metadata.name))) continue;
      log.info({ segment: seg.name, version, job: job.metadata.name }, 'superseded build stopped');
      await this.deps.events.record(regarding, {
        type: 'Normal',
        reason: EventReason.SnapshotBuildSuperseded,
        message: `segment ${seg.name}: build of snapshot ${version} stopped (${done} shards done): superseded by ${cur.version}; its Job ${job.metadata.name} deleted, LATEST not moved`,
      });
    }
  }

  /** Failed publish Jobs of this segment's earlier builds: an Event each, then the Job deleted. */
  private async reportSuperseded(
    model: RankingModel,
    seg: ResolvedSegment,
    cur: SnapshotBuildStatus,
    regarding: Regarding,
    log: Logger,
  ): Promise<void> {
    const ns = model.metadata.namespace;
    const jobs = await this.othersJobs(
      model,
      seg,
      cur,
      'publish',
      (j) => conditionOf(j, 'Failed') !== undefined,
    );
    for (const job of jobs) {
      const version = job.metadata.labels![LABEL_BUILD_VERSION]!;
      const message = `segment ${seg.name}: snapshot ${version}, superseded by ${cur.version}: ${this.failureOf(job, true)}; LATEST not moved`;
      log.warn({ segment: seg.name, version, job: job.metadata.name }, 'superseded build publish failed');
      await this.deps.events.record(regarding, {
        type: 'Warning',
        reason: EventReason.SnapshotPublishSuperseded,
        message: message.slice(0, 1024),
      });
      await this.deps.owned.deleteIfPresent(JOBS, ns, job.metadata.name);
    }
  }

  private async fail(
    seg: ResolvedSegment,
    cur: SnapshotBuildStatus,
    job: Job,
    regarding: Regarding,
    log: Logger,
    now: Date,
  ): Promise<SnapshotBuildStatus> {
    const message = `${this.failureOf(job, cur.phase === 'Publishing')}; LATEST not moved`.slice(0, 4000);
    const failed: SnapshotBuildStatus = { ...cur, phase: 'Failed', completionTime: toKubeTime(now), message };
    log.warn({ segment: seg.name, version: cur.version, message }, 'snapshot build failed');
    await this.deps.events.record(regarding, {
      type: 'Warning',
      reason: EventReason.SnapshotBuildFailed,
      message: `segment ${seg.name}: snapshot ${cur.version} failed: ${message}`.slice(0, 1024),
    });
    return failed;
  }

  /**
   * The build's items so far and its items/s: each succeeded shard reports its item count in its
   * termination message (embed/main.ts); their sum over the seconds since the build started.
   * A running shard's items count once it finishes, so while shards run this is a lower bound.
   * Nothing when no finished shard has reported (an image that does not report).
   */
  private progress(
    job: Job,
    cur: SnapshotBuildStatus,
    now: Date,
  ): Pick<SnapshotBuildStatus, 'itemsDone' | 'itemsPerSecond'> {
    const perIndex = new Map<string, number>();
    for (const p of this.deps.pods.list(
      (p) =>
        p.metadata.namespace === job.metadata.namespace &&
        p.metadata.labels?.['batch.kubernetes.io/job-name'] === job.metadata.name &&
        (p.status as { phase?: string } | undefined)?.phase === 'Succeeded',
    )) {
      const index = p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'];
      const items = reportedItems(p);
      if (index !== undefined && items !== undefined) perIndex.set(index, items);
    }
    if (perIndex.size === 0) return {};
    const itemsDone = [...perIndex.values()].reduce((a, b) => a + b, 0);
    const seconds = Math.max((now.getTime() - Date.parse(cur.startTime)) / 1000, 1);
    return { itemsDone, itemsPerSecond: Math.round(itemsDone / seconds) };
  }

  /**
   * A pod of the Job that cannot start and will not by itself (a missing credentials Secret, an
   * image that cannot be had: pod-cache.ts STUCK_WAITING_REASONS), in the kubelet's words.
   */
  private stuck(job: Job, step: 'shard' | 'publish'): string | undefined {
    for (const p of this.deps.pods.list(
      (p) =>
        p.metadata.namespace === job.metadata.namespace &&
        p.metadata.labels?.['batch.kubernetes.io/job-name'] === job.metadata.name,
    )) {
      const waiting = (
        p.status as { containerStatuses?: { state?: { waiting?: { reason?: string; message?: string } } }[] }
      )?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
      if (!waiting) continue;
      const index = p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'];
      const who = step === 'shard' && index !== undefined ? `shard ${index}` : `the ${step} pod`;
      return `${who} cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
    }
    return undefined;
  }

  /** Which shard failed and why, in the shard's own words (its pod's termination message). */
  private failureOf(job: Job, publishing: boolean): string {
    const failedCondition = conditionOf(job, 'Failed');
    const pods = this.deps.pods
      .list(
        (p) =>
          p.metadata.namespace === job.metadata.namespace &&
          p.metadata.labels?.['batch.kubernetes.io/job-name'] === job.metadata.name,
      )
      .filter((p) => (p.status as { phase?: string } | undefined)?.phase === 'Failed')
      .sort((a, b) =>
        String(a.metadata.creationTimestamp ?? '') < String(b.metadata.creationTimestamp ?? '') ? 1 : -1,
      );
    const words = (p: KubeObject) => {
      const statuses = (
        p.status as {
          containerStatuses?: { state?: { terminated?: { exitCode?: number; message?: string } } }[];
        }
      )?.containerStatuses;
      const t = statuses?.[0]?.state?.terminated;
      if (!t) return undefined;
      const line = (t.message ?? '')
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('embed: '))
        .pop();
      return `${line ? line.slice('embed: '.length) : (t.message ?? '').trim().slice(-500) || 'no message'} (exit code ${t.exitCode ?? '?'})`;
    };
    if (publishing) {
      const p = pods[0];
      return `publish refused: ${(p && words(p)) ?? failedCondition?.message ?? 'the publish Job failed'}`;
    }
    const indexes = job.status?.failedIndexes;
    const first = indexes ? Number(indexes.split(/[,-]/)[0]) : undefined;
    const pod = pods.find(
      (p) => p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'] === String(first),
    );
    const cause =
      (pod && words(pod)) ?? failedCondition?.message ?? failedCondition?.reason ?? 'the Job failed';
    return first !== undefined ? `shard ${first} failed: ${cause}` : `the build Job failed: ${cause}`;
  }
}
