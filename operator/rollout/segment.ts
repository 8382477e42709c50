// One segment's rollout, one pass, as a list of steps (Argo Rollouts' rollout/canary.go):
//
//   reconcileServices → reconcileAnalysis → reconcileReplicas → reconcileRouting → reconcilePause
//
// The canary track's Service exists only around a rollout (reconcileServices).
// Each step may end the pass early (a comment says why); the pass returns the segment's rollout
// state, which the orchestrator writes in one status sync. Everything the next pass needs is in
// that status (step, step start, canary version and weight, last analysis) or on the Deployments
// (what stable serves, a rolled-back revision), so an operator killed at any point resumes.
// Three rules hold for the traffic a canary gets:
//   - scale before shift: a step's weight is written only once the canary has the replicas that
//     step needs, Ready; until then (pods starting, GPUs short) the previous weight holds;
//   - a weight once set never moves backwards, except to 0 on an abort, a rollback, or the end of
//     a promotion (stable then runs the new version);
//   - analysis runs every intervalSeconds while the canary carries traffic, whatever the step is
//     waiting for, so a canary that turns bad loses its traffic within one interval and a query.
// A step's pause (and the passing verdict it needs) counts from when its weight is served.
// A canary that routing no longer sends traffic to is removed only scaleDownDelaySeconds later
// (the time is kept in status): routers apply a new table seconds after it is written.
// Three situations, decided by comparing revisions (serving.ts):
//   spec = stable          settle: route all to stable, remove any canary (finishing a promotion
//                          first waits for stable to run the new version);
//   spec = rolled back     hold: the failed revision is not retried until the spec changes again
//                          or `lightrank.dev/retry` is set;
//   otherwise              progress through the steps.
import { EventReason, Reason } from '../../api/conditions.js';
import type { AnalysisResult, RankingModel, RolloutPhase, SegmentStatus } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import type { Logger } from '../../lib/logger.js';
import type { AnalysisOutcome, AnalysisInput } from '../analysis/analysis.js';
import { windowFor } from '../analysis/analysis.js';
import type { Deployment } from '../builders.js';
import type { EventSpec } from '../runtime/events.js';
import { deploymentReady, segmentReady } from '../status.js';
import type { TrafficProvider } from '../traffic/provider.js';
import { describeShortfall, type Capacity } from './capacity.js';
import type { Controls } from './controls.js';
import { readServing, revisionOf, servingOf, type ServingRecord } from './serving.js';

/** What a pass did that the Progressing / Degraded conditions report. */
export interface Note {
  reason: string;
  message: string;
}

export interface SegmentRolloutState {
  name: string;
  phase: RolloutPhase;
  stableVersion: string;
  canaryVersion?: string;
  canaryWeight: number;
  rolloutStep?: number;
  stepStartTime?: string;
  /** When the canary of a finished rollout is removed (it gets no traffic already). */
  canaryScaleDownAt?: string;
  lastAnalysis?: AnalysisResult;
  canaryReadyReplicas: number;
  /** Why a rollout in flight is not moving right now (paused, blocked, waiting). */
  holding?: Note;
  /** A rollback or failure decided in this pass. */
  failure?: Note;
  /** A promotion completed in this pass. */
  promoted?: boolean;
  requeueAfterMs?: number;
}

/** The side effects a rollout step may have; the orchestrator implements them. */
export interface RolloutOps {
  /**
   * The segment's canary Service (recording a rolled-back revision) when `canary`, else it is
   * removed, after the routing objects stopped naming it. (The stable backend is the segment's own
   * Service, always there: traffic/services.ts.)
   */
  applyTrackServices(canary: boolean, rolledBack: string | undefined): Promise<void>;
  /**
   * (Re)write the stable Deployment to run `record` (a promotion). `canaryTakesAll`: the canary
   * carries all the segment's traffic meanwhile, so the stable may replace its pods in place.
   */
  applyStable(record: ServingRecord, canaryTakesAll: boolean): Promise<void>;
  applyCanary(replicas: number): Promise<void>;
  deleteCanary(): Promise<void>;
  /** GPU capacity for a canary pod of this segment; undefined when it cannot be read (RBAC). */
  capacity(): Promise<Capacity | undefined>;
  analyze(
    input: Omit<AnalysisInput, 'windowSeconds' | 'baselineWindowSeconds'>,
    intervalSeconds: number,
  ): Promise<AnalysisOutcome>;
  event(ev: EventSpec): Promise<void>;
}

export interface SegmentContext {
  model: RankingModel;
  /** The segment as the spec wants it (the rollout target). */
  desired: ResolvedSegment;
  /** What the stable track runs. */
  stable: ServingRecord;
  stableLive: Deployment | undefined;
  canaryLive: Deployment | undefined;
  /**
   * `<version>: <cause>` refusals the canary pods' sidecars annotated (a model file whose sha256
   * or fingerprint is not the spec's): such a canary never becomes ready.
   */
  canaryRefusals: string[];
  rolledBack: string | undefined;
  prev: SegmentStatus | undefined;
  controls: Controls;
  now: Date;
  provider: TrafficProvider;
  ops: RolloutOps;
  log: Logger;
}

type Next = 'continue' | 'stop';

interface DeploymentStatus {
  observedGeneration?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
}

function readyReplicas(d: Deployment | undefined): number {
  return (d?.status as DeploymentStatus | undefined)?.readyReplicas ?? 0;
}

export class SegmentRollout {
  private readonly s: SegmentRolloutState;
  private readonly desiredRev: string;
  private readonly canaryRev: string | undefined;
  private step = 0;
  private stepStart: Date;

  constructor(private readonly c: SegmentContext) {
    this.desiredRev = revisionOf(servingOf(c.desired));
    const canaryRecord = readServing(c.canaryLive, c.desired.model.tasks);
    this.canaryRev = canaryRecord ? revisionOf(canaryRecord) : undefined;
    this.stepStart = c.now;
    this.s = {
      name: c.desired.name,
      phase: 'Stable',
      stableVersion: c.stable.model.version,
      // what routing serves (the status is written after it, so it may lag, never lead)
      canaryWeight: c.provider.weight(c.desired.name),
      canaryReadyReplicas: this.canaryCurrent ? readyReplicas(c.canaryLive) : 0,
      lastAnalysis: c.prev?.lastAnalysis,
    };
  }

  /** The live canary runs the target revision. */
  private get canaryCurrent(): boolean {
    return this.c.canaryLive !== undefined && this.canaryRev === this.desiredRev;
  }

  private get rollout() {
    return this.c.model.spec.rollout;
  }

  private get elapsedMs(): number {
    return this.c.now.getTime() - this.stepStart.getTime();
  }

  async run(): Promise<SegmentRolloutState> {
    await this.reconcileServices();
    if (this.desiredRev === revisionOf(this.c.stable)) return this.settle();
    if (this.c.rolledBack === this.desiredRev) return this.holdRolledBack();
    return this.progress();
  }

  // ---- the three situations ----------------------------------------------------------------

  /** Spec and stable agree: no rollout, or the end of one. */
  private async settle(): Promise<SegmentRolloutState> {
    const { prev, stableLive, desired } = this.c;
    const promoting = this.canaryCurrent && prev?.rolloutPhase === 'Progressing';
    // an autoscaled stable takes the traffic back only with all the pods its autoscaler set ready
    // (its floor would be Ready enough for the status, not for the whole segment's load)
    const stableUp = desired.autoscaling
      ? deploymentReady(stableLive, desired.replicas)
      : segmentReady({ segment: desired, deployment: stableLive });
    if (promoting && !stableUp) {
      // the canary keeps its traffic until the stable pods run the promoted version
      this.hold(
        Reason.RolloutPromoted,
        `promoting ${desired.model.version}: waiting for the stable pods`,
        1000,
        {
          phase: 'Progressing',
          canaryVersion: desired.model.version,
          rolloutStep: prev?.rolloutStep,
          stepStartTime: prev?.stepStartTime,
        },
      );
      return this.s;
    }
    if (!(await this.route(0))) return this.s;
    await this.scaleDownCanary();
    if (promoting) {
      this.s.promoted = true;
      await this.c.ops.event({
        type: 'Normal',
        reason: EventReason.RolloutPromoted,
        message: `segment ${desired.name}: ${desired.model.version} promoted to stable`,
      });
    }
    Object.assign(this.s, { phase: 'Stable', canaryWeight: 0 });
    return this.s;
  }

  /** The target revision was rolled back: keep all traffic on stable and no canary. */
  private async holdRolledBack(): Promise<SegmentRolloutState> {
    Object.assign(this.s, { phase: 'RolledBack', canaryVersion: this.c.desired.model.version });
    if (!(await this.route(0))) return this.s;
    await this.scaleDownCanary();
    return this.s;
  }

  /** A rollout in flight: resume it from status, or start it at step 0. */
  private async progress(): Promise<SegmentRolloutState> {
    const { prev, desired, controls } = this.c;
    const fresh =
      prev?.rolloutPhase !== 'Progressing' ||
      prev.canaryVersion !== desired.model.version ||
      (this.c.canaryLive !== undefined && !this.canaryCurrent);
    if (fresh) {
      this.stepStart = this.c.now;
      this.s.lastAnalysis = undefined;
      await this.c.ops.event({
        type: 'Normal',
        reason: EventReason.RolloutStarted,
        message: `segment ${desired.name}: rolling out ${desired.model.version} (stable ${this.c.stable.model.version}) in ${this.rollout.steps.length} steps`,
      });
    } else {
      this.step = Math.min(prev.rolloutStep ?? 0, this.rollout.steps.length - 1);
      this.stepStart = prev.stepStartTime ? new Date(prev.stepStartTime) : this.c.now;
    }
    Object.assign(this.s, { phase: 'Progressing', canaryVersion: desired.model.version });
    this.syncStep();

    if (controls.abort) await this.fail(Reason.RolledBack, 'aborted (annotation lightrank.dev/abort)', true);
    else if (controls.promote === 'full')
      await this.promote('promoted by hand (annotation lightrank.dev/promote=full)');
    else
      for (const step of [
        this.reconcileAnalysis,
        this.reconcileReplicas,
        this.reconcileRouting,
        this.reconcilePause,
      ]) {
        if ((await step.call(this)) === 'stop') break;
      }
    this.scheduleAnalysis();
    return this.s;
  }

  // ---- the steps ----------------------------------------------------------------------------

  /**
   * The canary Service, the canary backend every provider routes to (the stable backend is the
   * segment's own Service), only around a rollout (traffic/services.ts): from its start (before the canary Deployment,
   * so its endpoints follow the canary pods and the router watches it before any weight moves)
   * while a canary runs or carries weight, and while it records a rolled-back revision. Once the
   * spec names what stable runs again, with no canary and no weight, it goes (and the mark with it).
   */
  private async reconcileServices(): Promise<Next> {
    const settled = this.desiredRev === revisionOf(this.c.stable);
    const canary = !settled || this.c.canaryLive !== undefined || this.s.canaryWeight > 0;
    await this.c.ops.applyTrackServices(canary, settled ? undefined : this.c.rolledBack);
    return 'continue';
  }

  /**
   * The step's weight, now that the canary has the step's replicas Ready (reconcileReplicas). A
   * new weight starts the step's clock: its pause and its passing verdict count from here.
   */
  private async reconcileRouting(): Promise<Next> {
    const weight = this.rollout.steps[this.step]!.weight;
    const before = this.s.canaryWeight;
    // analysing before the data plane serves the split would judge the wrong traffic
    if (!(await this.route(weight))) return 'stop';
    if (weight !== before) {
      this.stepStart = this.c.now;
      this.syncStep();
    }
    return 'continue';
  }

  /**
   * The canary as it serves now (the weight it carries, whatever the step waits for): measured
   * every intervalSeconds, and at once when a step's weight is new.
   */
  private async reconcileAnalysis(): Promise<Next> {
    const a = this.rollout.analysis;
    // nothing to measure: no analysis configured, or no traffic reaches the target canary
    if (!a || this.s.canaryWeight === 0 || !this.canaryCurrent) return 'continue';
    if (this.analysisDueInMs() > 0) return 'continue'; // the last verdict is recent enough
    const out = await this.c.ops.analyze(
      {
        model: this.c.model.metadata.name,
        segment: this.c.desired.name,
        tasks: this.c.desired.model.tasks,
        thresholds: a,
        time: this.c.now,
      },
      a.intervalSeconds,
    );
    this.s.lastAnalysis = {
      result: out.result,
      message: out.message,
      time: this.c.now.toISOString(),
      ...(out.unavailable ? { reason: Reason.AnalysisUnavailable } : {}),
    };
    this.c.log.info({ segment: this.c.desired.name, step: this.step, ...out }, 'canary analysis');
    if (out.result === 'Failed') return this.fail(Reason.AnalysisFailed, out.message);
    const limitMs =
      (this.rollout.steps[this.step]!.pauseSeconds + this.rollout.progressDeadlineSeconds) * 1000;
    if (out.result === 'Inconclusive' && this.elapsedMs > limitMs)
      return this.fail(
        Reason.AnalysisInconclusive,
        `no verdict within the step's pause + progressDeadlineSeconds (${limitMs / 1000}s): ${out.message}`,
      );
    return 'continue';
  }

  /**
   * The canary Deployment at the step's share of the segment's replicas, if the GPUs are there,
   * and Ready before the step's weight is written: until then the previous weight holds.
   */
  private async reconcileReplicas(): Promise<Next> {
    const { desired, canaryLive } = this.c;
    const weight = this.rollout.steps[this.step]!.weight;
    const want = Math.max(1, Math.ceil((desired.replicas * weight) / 100));
    // a canary of another revision (the spec moved on mid-rollout) loses its traffic before its
    // pods are replaced by the target's, which have not been measured yet
    if (!this.canaryCurrent && this.s.canaryWeight > 0 && !(await this.route(0))) return 'stop';
    const have = this.canaryCurrent ? ((canaryLive!.spec as { replicas?: number }).replicas ?? 0) : 0;
    const gpus = desired.serving.executionProvider === 'cuda' ? desired.serving.gpu.count : 0;
    if (want > have && gpus > 0) {
      const cap = await this.c.ops.capacity();
      const needed = (want - have) * gpus;
      if (cap && cap.free < needed) {
        const why = describeShortfall(cap, needed, want - have, gpus);
        if (this.deadlinePassed())
          return this.fail(
            Reason.ProgressDeadlineExceeded,
            `${why}, for over ${this.rollout.progressDeadlineSeconds}s`,
          );
        await this.c.ops.event({
          type: 'Warning',
          reason: EventReason.CapacityBlocked,
          message: `segment ${desired.name}: ${why}`,
          repeats: true,
        });
        // a canary the scheduler cannot place would sit Pending; say so, with numbers, and wait
        return this.hold(Reason.CapacityBlocked, `${why}; ${this.holdsAt()} until it fits`, 5000);
      }
    }
    await this.c.ops.applyCanary(want);
    // its pods refused the target model: waiting out the deadline would change nothing
    const refused = this.c.canaryRefusals.find((r) => r.startsWith(`${desired.model.version}: `));
    if (this.canaryCurrent && refused)
      return this.fail(Reason.ModelRejected, `canary pods refused model ${refused}`);
    if (!(want <= have && deploymentReady(canaryLive, want))) {
      const ready = this.s.canaryReadyReplicas;
      if (this.deadlinePassed())
        return this.fail(
          Reason.ProgressDeadlineExceeded,
          `canary ${ready}/${want} ready after ${this.rollout.progressDeadlineSeconds}s`,
        );
      // the step's weight, pause and verdict wait for the canary to be fully up
      return this.hold(
        Reason.RolloutInProgress,
        `${this.holdsAt()}: waiting for the canary: ${ready}/${want} pods ready`,
        2000,
      );
    }
    return 'continue';
  }

  private async reconcilePause(): Promise<Next> {
    const { controls } = this.c;
    const step = this.rollout.steps[this.step]!;
    // a person holds the rollout; removing the annotation resumes it
    if (controls.paused) return this.hold(Reason.RolloutPaused, 'paused (annotation lightrank.dev/paused)');
    if (controls.promote !== 'step') {
      const a = this.rollout.analysis;
      const last = this.s.lastAnalysis;
      const passedThisStep = last?.result === 'Passed' && new Date(last.time) >= this.stepStart;
      if (a && !passedThisStep) {
        // a step moves on only on a passing verdict; inconclusive holds it (until its deadline)
        const why =
          last && new Date(last.time) >= this.stepStart ? `${last.result}: ${last.message}` : 'none yet';
        return this.hold(
          Reason.AnalysisInconclusive,
          `waiting for a passing analysis (last: ${why})`,
          a.intervalSeconds * 1000,
        );
      }
      const remaining = step.pauseSeconds * 1000 - this.elapsedMs;
      if (remaining > 0) return this.hold(Reason.RolloutInProgress, this.stepMessage(), remaining);
    }
    if (this.step + 1 >= this.rollout.steps.length) return this.promote('all steps passed');
    this.step += 1;
    this.stepStart = this.c.now;
    this.syncStep();
    await this.c.ops.event({
      type: 'Normal',
      reason: EventReason.RolloutStep,
      message: `segment ${this.c.desired.name}: ${this.stepMessage()}`,
    });
    this.s.requeueAfterMs = 100;
    return 'stop';
  }

  // ---- transitions --------------------------------------------------------------------------

  /** The stable track takes the target; the next passes move traffic back and remove the canary. */
  private async promote(why: string): Promise<Next> {
    await this.c.ops.applyStable(servingOf(this.c.desired), this.s.canaryWeight === 100);
    await this.c.ops.event({
      type: 'Normal',
      reason: EventReason.RolloutPromoting,
      message: `segment ${this.c.desired.name}: promoting ${this.c.desired.model.version}: ${why}`,
    });
    return this.hold(Reason.RolloutPromoted, `promoting ${this.c.desired.model.version}: ${why}`, 500);
  }

  /**
   * A failed rollout: with autoRollback (or an abort) mark the revision rolled back on the canary
   * Service first (a restart then finds the decision), route everything to stable and remove the
   * canary; without it, hold where it is, Degraded.
   */
  private async fail(reason: string, message: string, abort = false): Promise<Next> {
    const { desired, stable } = this.c;
    this.s.failure = { reason, message };
    if (!abort && !this.rollout.autoRollback)
      return this.hold(reason, `${message}; autoRollback is off: abort or promote by hand`);
    await this.c.ops.applyTrackServices(true, this.desiredRev);
    await this.c.ops.event({
      type: 'Warning',
      reason: EventReason.RolledBack,
      message: `segment ${desired.name}: rolled back ${desired.model.version} to ${stable.model.version}: ${reason}: ${message}`,
    });
    Object.assign(this.s, {
      phase: 'RolledBack',
      rolloutStep: undefined,
      stepStartTime: undefined,
      holding: undefined,
    });
    if (await this.route(0)) await this.scaleDownCanary();
    return 'stop';
  }

  // ---- helpers ------------------------------------------------------------------------------

  /**
   * Routing confirmed sends the canary nothing: remove it once scaleDownDelaySeconds have passed
   * since then (Argo Rollouts' scaleDownDelaySeconds), so that no router still on its previous
   * table sends a request to a canary without pods. The time is kept in status across restarts.
   */
  private async scaleDownCanary(): Promise<void> {
    this.s.canaryReadyReplicas = 0;
    if (!this.c.canaryLive) return;
    const d = canaryScaleDown(this.c.now, this.rollout.scaleDownDelaySeconds, this.c.prev?.canaryScaleDownAt);
    if (d.remove) {
      await this.c.ops.deleteCanary();
      return;
    }
    this.s.canaryScaleDownAt = d.at.toISOString();
    this.s.requeueAfterMs = Math.max(100, Math.min(this.s.requeueAfterMs ?? Infinity, d.waitMs));
  }

  /** Set and verify the canary weight; false (and a short requeue) while it is not confirmed. */
  private async route(weight: number): Promise<boolean> {
    const { provider, desired } = this.c;
    await provider.setWeight(desired.name, weight);
    if (!(await provider.verifyWeight(desired.name, weight))) {
      this.hold(
        Reason.RoutingUnavailable,
        `${provider.mode} does not confirm ${weight}% to the canary yet`,
        1000,
      );
      return false;
    }
    this.s.canaryWeight = weight;
    return true;
  }

  private hold(
    reason: string,
    message: string,
    requeueAfterMs?: number,
    extra: Partial<SegmentRolloutState> = {},
  ): Next {
    Object.assign(this.s, extra);
    this.s.holding = { reason, message };
    if (requeueAfterMs !== undefined) this.s.requeueAfterMs = Math.max(100, requeueAfterMs);
    return 'stop';
  }

  /**
   * How long until the canary is measured again: at once when its weight is new this step (no
   * verdict since the step's start), else intervalSeconds after the last verdict.
   */
  private analysisDueInMs(): number {
    const a = this.rollout.analysis;
    if (!a) return Infinity;
    const last = this.s.lastAnalysis;
    const lastAt = last ? new Date(last.time).getTime() : -Infinity;
    if (lastAt < this.stepStart.getTime()) return 0;
    return lastAt + a.intervalSeconds * 1000 - this.c.now.getTime();
  }

  /** A canary that carries traffic is looked at again when its next analysis is due. */
  private scheduleAnalysis(): void {
    if (this.s.phase !== 'Progressing' || this.s.canaryWeight === 0 || !this.rollout.analysis) return;
    const due = Math.max(100, this.analysisDueInMs());
    this.s.requeueAfterMs = Math.min(this.s.requeueAfterMs ?? Infinity, due);
  }

  /** e.g. "step 2/3 holds the canary at 20%" (the weight it has, not the step's). */
  private holdsAt(): string {
    return `step ${this.step + 1}/${this.rollout.steps.length} holds the canary at ${this.s.canaryWeight}%`;
  }

  private deadlinePassed(): boolean {
    return this.elapsedMs > this.rollout.progressDeadlineSeconds * 1000;
  }

  private syncStep(): void {
    this.s.rolloutStep = this.step;
    // millisecond precision (RFC 3339 allows it): a pause is held for its full length
    this.s.stepStartTime = this.stepStart.toISOString();
  }

  private stepMessage(): string {
    const n = this.rollout.steps.length;
    return `step ${this.step + 1}/${n}: canary ${this.c.desired.model.version} at ${this.rollout.steps[this.step]!.weight}%`;
  }
}

/**
 * When a canary that gets no traffic any more goes: at the time recorded in status (an earlier
 * pass decided it), else `delaySeconds` from now. Pure, for the tests.
 */
export function canaryScaleDown(
  now: Date,
  delaySeconds: number,
  recorded: string | undefined,
): { remove: boolean; at: Date; waitMs: number } {
  const prior = recorded ? new Date(recorded) : undefined;
  const at = prior && !Number.isNaN(prior.getTime()) ? prior : new Date(now.getTime() + delaySeconds * 1000);
  const waitMs = at.getTime() - now.getTime();
  return { remove: waitMs <= 0, at, waitMs };
}

/** The analysis windows for an interval (exported for the orchestrator). */
export function analysisWindows(intervalSeconds: number): {
  windowSeconds: number;
  baselineWindowSeconds: number;
} {
  const w = windowFor(intervalSeconds);
  return { windowSeconds: w, baselineWindowSeconds: Math.max(600, 10 * w) };
}
