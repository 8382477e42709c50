// The RankingModel status, derived in one place (Argo Rollouts' rollout/sync.go and
// utils/conditions), as a pure function:
//
//   gather     what each segment's stable Deployment and pods report, the router, the snapshots
//              the pods serve (operator/snapshots.ts reads their annotations) and each segment's
//              rollout (operator/rollout/segment.ts) → Facts, plain data;
//   decide     one function per condition type (ready, progressing, degraded, snapshotsInSync),
//              each with its precedence written down;
//   phase      derived from the conditions alone (phaseOf);
//   summary    the per-segment fields and the printer-column fields.
//
// Nothing after this module overrides its verdict. Conditions are set the Kubernetes way
// (api/conditions.ts): an unchanged status compares equal and its write is skipped.
import {
  ConditionType,
  Reason,
  findCondition,
  setConditions,
  type ConditionInput,
} from '../api/conditions.js';
import type {
  Condition,
  Phase,
  RankingModel,
  RankingModelStatus,
  RolloutPhase,
  SegmentStatus,
} from '../api/rankingmodel.js';
import type { ResolvedSegment } from '../api/resolve.js';
import type { Deployment } from './builders.js';
import { PodAnnotation, refusalCode } from '../api/pod-annotations.js';
import type { KubeObject } from './runtime/kube/types.js';
import { podSnapshotReport, segmentSnapshot, type SegmentSnapshot } from './snapshots.js';
import { LABEL_TRACK, SERVER_PORT } from './builders.js';
import { routerName } from './traffic/router/objects.js';
import { SHARED_ROUTER_NAME, usesSharedRouter } from './traffic/router/shared.js';
import type { SegmentRolloutState } from './rollout/segment.js';
import {
  autoscaledFields,
  scaleColumn,
  scaleLimited,
  type AutoscalerObservation,
} from './autoscaling/status.js';

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

/** What a segment's stable Deployment reports, judged against what the spec wants. */
export interface SegmentObservation {
  segment: ResolvedSegment;
  deployment: Deployment | undefined;
  /**
   * The segment's pods (both tracks; a pod without a track label counts as stable), annotated by
   * their sidecars with the model and snapshot they serve.
   */
  pods?: readonly KubeObject[];
  /** An autoscaled segment's HPA or ScaledObject, as its status reads. */
  autoscaler?: AutoscalerObservation;
}

const track = (p: KubeObject) => (p.metadata.labels?.[LABEL_TRACK] === 'canary' ? 'canary' : 'stable');

function stablePods(o: SegmentObservation): KubeObject[] {
  return (o.pods ?? []).filter((p) => track(p) === 'stable');
}

function deploymentStatus(d: Deployment | undefined): DeploymentStatus {
  return (d?.status as DeploymentStatus | undefined) ?? {};
}

/** Rolled out (the current template observed) with at least `want` replicas updated and ready. */
export function deploymentReady(d: Deployment | undefined, want: number): boolean {
  if (!d) return false;
  const st = deploymentStatus(d);
  return (
    (st.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
    (st.updatedReplicas ?? 0) >= want &&
    (st.readyReplicas ?? 0) >= want
  );
}

/** A segment is ready when its Deployment has rolled out the current spec with every replica ready. */
export function segmentReady(o: SegmentObservation): boolean {
  const a = o.segment.autoscaling;
  // autoscaled: serving at its floor is ready; a scale-up or -down in flight is no loss of service
  // (ScaleLimited says when a scale-up cannot be placed)
  if (a) return deploymentReady(o.deployment, Math.max(1, Math.min(a.minReplicas, o.segment.replicas)));
  const want = o.segment.replicas;
  return deploymentReady(o.deployment, want) && (deploymentStatus(o.deployment).replicas ?? 0) <= want;
}

function progressDeadlineExceeded(d: Deployment | undefined): string | undefined {
  const c = deploymentStatus(d).conditions?.find((x) => x.type === 'Progressing');
  return c?.status === 'False' && c.reason === 'ProgressDeadlineExceeded'
    ? (c.message ?? 'progress deadline exceeded')
    : undefined;
}

interface PodStatus {
  phase?: string;
  conditions?: { type: string; status: string }[];
}

/**
 * Why a segment that is not ready waits, from its stable pods: pods not yet running (not
 * scheduled, pulling) are `pending`; running ones whose Ready condition is not True are
 * `notReady` (the server answers ready only once the sidecar has published a model and a snapshot).
 */
export function segmentWait(o: SegmentObservation): { pending: boolean; text: string } {
  let pending = 0;
  let notReady = 0;
  for (const p of stablePods(o)) {
    const st = (p.status as PodStatus | undefined) ?? {};
    if (st.phase === 'Pending' || st.phase === undefined) pending++;
    else if (st.phase === 'Running' && !st.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      notReady++;
  }
  const name = o.segment.name;
  if (pending > 0) return { pending: true, text: `${name} (${pending} pod(s) pending)` };
  if (notReady > 0)
    return {
      pending: false,
      text: `${name} (${notReady} pod(s) running, not ready: the sidecar's /readyz says why)`,
    };
  return { pending: true, text: name };
}

/**
 * Models the segment's pods refused (their sidecars annotate `<version>: <code>: <message>`): such
 * pods never become ready, so this is the reason a segment waits; each refusal once, with its pod
 * count, and its code (`fingerprint`: a model of another tower).
 */
function modelRefusals(o: SegmentObservation): { message: string; code: string | undefined }[] {
  const counts = new Map<string, number>();
  for (const p of stablePods(o)) {
    const refused = p.metadata.annotations?.[PodAnnotation.ModelRefused];
    if (refused && !p.metadata.deletionTimestamp) counts.set(refused, (counts.get(refused) ?? 0) + 1);
  }
  return [...counts].map(([r, n]) => ({
    message: `${o.segment.name}: ${n} pod(s) refused model ${r}`,
    code: refusalCode(r),
  }));
}

function observedSnapshot(o: SegmentObservation): SegmentSnapshot {
  return segmentSnapshot(stablePods(o).map(podSnapshotReport));
}

export function segmentStatus(o: SegmentObservation, snapshot = observedSnapshot(o)): SegmentStatus {
  return {
    name: o.segment.name,
    replicas: o.segment.replicas,
    readyReplicas: deploymentStatus(o.deployment).readyReplicas ?? 0,
    stableVersion: o.segment.model.version,
    canaryWeight: 0,
    rolloutPhase: 'Stable',
    ...(snapshot.snapshotVersion !== undefined ? { snapshotVersion: snapshot.snapshotVersion } : {}),
    ...(snapshot.snapshotTime ? { snapshotTime: snapshot.snapshotTime } : {}),
    ...autoscaledFields(o),
  };
}

/** The model's router (routing.mode router): its Deployment, or undefined before it exists. */
export interface RouterObservation {
  name: string;
  deployment: Deployment | undefined;
}

// ---- gather ---------------------------------------------------------------------------------

interface PodScheduling {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/**
 * Pods the scheduler cannot place, in its own words (`0/4 nodes are available: 2 Insufficient
 * nvidia.com/gpu, ...`), per track and message, with how many pods each.
 */
function unschedulable(o: SegmentObservation): string[] {
  const counts = new Map<string, number>();
  for (const p of o.pods ?? []) {
    if (p.metadata.deletionTimestamp) continue;
    const c = (p as PodScheduling).status?.conditions?.find((x) => x.type === 'PodScheduled');
    if (c?.status !== 'False' || c.reason !== 'Unschedulable') continue;
    const key = `${track(p)}\u0000${c.message ?? 'no message'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => {
    const [t, message] = key.split('\u0000');
    return `${o.segment.name}: ${n} ${t} pod(s) cannot be scheduled: ${message}`;
  });
}

interface SegmentFacts {
  name: string;
  observation: SegmentObservation;
  ready: boolean;
  wait: { pending: boolean; text: string } | undefined;
  refusals: { message: string; code: string | undefined }[];
  unschedulable: string[];
  /** The stable Deployment's own ProgressDeadlineExceeded message. */
  stuck: string | undefined;
  snapshot: SegmentSnapshot;
  rollout: SegmentRolloutState | undefined;
}

interface Facts {
  generation: number;
  segments: SegmentFacts[];
  /** e.g. "router ads-router (1/2 ready)"; undefined when ready or not in router mode. */
  routerWait: string | undefined;
  allZero: boolean;
  /** The Degraded condition as stored (a rollback's reason is kept while it stays rolled back). */
  previousDegraded: Condition | undefined;
}

function gather(
  model: RankingModel,
  observations: readonly SegmentObservation[],
  router: RouterObservation | undefined,
  rollouts: readonly SegmentRolloutState[],
): Facts {
  const routerWant = (router?.deployment?.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const routerWait =
    !router || deploymentReady(router.deployment, routerWant)
      ? undefined
      : router.deployment
        ? `router ${router.name} (${deploymentStatus(router.deployment).readyReplicas ?? 0}/${routerWant} ready)`
        : `router ${router.name} (not created yet)`;
  const bySegment = new Map(rollouts.map((r) => [r.name, r]));
  return {
    generation: model.metadata.generation ?? 0,
    segments: observations.map((o) => {
      const ready = segmentReady(o);
      return {
        name: o.segment.name,
        observation: o,
        ready,
        wait: ready ? undefined : segmentWait(o),
        refusals: modelRefusals(o),
        unschedulable: unschedulable(o),
        stuck: progressDeadlineExceeded(o.deployment),
        snapshot: observedSnapshot(o),
        rollout: bySegment.get(o.segment.name),
      };
    }),
    routerWait,
    allZero: observations.every((o) => o.segment.replicas === 0),
    previousDegraded: findCondition(model.status?.conditions, ConditionType.Degraded),
  };
}

// ---- decide: one function per condition type ------------------------------------------------

type Verdict = Omit<ConditionInput, 'type' | 'observedGeneration'>;

/** Ready: every segment's stable replicas ready, and the router's in router mode. */
function ready(f: Facts): Verdict {
  const waiting = f.segments.filter((s) => !s.ready).map((s) => s.name);
  if (!waiting.length && !f.routerWait)
    return f.allZero
      ? { status: 'True', reason: Reason.ScaledToZero, message: 'every segment is scaled to zero' }
      : {
          status: 'True',
          reason: Reason.DeploymentsReady,
          message: `all ${f.segments.length} segments have their replicas ready`,
        };
  return {
    status: 'False',
    reason: Reason.ReplicasUnavailable,
    message: [
      ...(waiting.length ? [`segments not ready: ${waiting.join(', ')}`] : []),
      ...(f.routerWait ? [`not ready: ${f.routerWait}`] : []),
    ].join('; '),
  };
}

const describeRollout = (r: SegmentRolloutState) =>
  `${r.name}: ${r.holding?.message ?? `canary ${r.canaryVersion} at ${r.canaryWeight}%`}`;

/**
 * Progressing, first match wins:
 *   1. a rollout in flight: False/CapacityBlocked when a canary cannot be placed, True/
 *      RolloutPaused when every one in flight is paused, else True/RolloutInProgress;
 *   2. a promotion completed in this pass: False/RolloutPromoted;
 *   3. segments or the router not ready: True/PodsPending (pods not running yet) or PodsNotReady;
 *   4. False/Reconciled.
 */
function progressing(f: Facts): Verdict {
  const rollouts = f.segments.flatMap((s) => (s.rollout ? [s.rollout] : []));
  const inFlight = rollouts.filter((r) => r.phase === 'Progressing');
  if (inFlight.length) {
    const blocked = inFlight.filter((r) => r.holding?.reason === Reason.CapacityBlocked);
    if (blocked.length)
      return {
        status: 'False',
        reason: Reason.CapacityBlocked,
        message: blocked.map(describeRollout).join('; '),
      };
    const paused = inFlight.every((r) => r.holding?.reason === Reason.RolloutPaused);
    return {
      status: 'True',
      reason: paused ? Reason.RolloutPaused : Reason.RolloutInProgress,
      message: inFlight.map(describeRollout).join('; '),
    };
  }
  const promoted = rollouts.filter((r) => r.promoted);
  if (promoted.length)
    return {
      status: 'False',
      reason: Reason.RolloutPromoted,
      message: promoted.map((r) => `${r.name}: ${r.stableVersion} promoted`).join('; '),
    };
  const waits = f.segments.flatMap((s) => (s.wait ? [s.wait] : []));
  if (waits.length || f.routerWait)
    return {
      status: 'True',
      // running but not ready everywhere it waits: a sync problem, not scheduling
      reason:
        waits.some((w) => w.pending) || (f.routerWait && !waits.length)
          ? Reason.PodsPending
          : Reason.PodsNotReady,
      message: `waiting for ${[...waits.map((w) => w.text), ...(f.routerWait ? [f.routerWait] : [])].join(', ')}`,
    };
  return { status: 'False', reason: Reason.Reconciled, message: 'desired state reached' };
}

/** Reasons a Degraded condition of a rolled-back segment may carry (kept while it stays rolled back). */
const ROLLBACK_REASONS: readonly string[] = [
  Reason.RolledBack,
  Reason.AnalysisFailed,
  Reason.AnalysisInconclusive,
  Reason.ProgressDeadlineExceeded,
  Reason.CapacityBlocked,
  Reason.ModelRejected,
];

/**
 * Degraded, in precedence order (the first problem found gives the reason; the message names
 * every problem found, the first first):
 *   1. a rollout failed (rolled back, or held with autoRollback off): its reason, kept while the
 *      segment stays rolled back;
 *   2. stable pods refused their model: FingerprintMismatch (all of another tower) or ModelRejected;
 *   3. pods the scheduler cannot place: PodsUnschedulable, in the scheduler's words;
 *   4. a stable Deployment past its progress deadline: ProgressDeadlineExceeded;
 *   5. a rollout whose analysis cannot reach Prometheus: AnalysisUnavailable (the step holds);
 *   otherwise False/AsExpected.
 */
function degraded(f: Facts): Verdict {
  const problems: { reason: string; messages: string[] }[] = [];
  const rollouts = f.segments.flatMap((s) => (s.rollout ? [s.rollout] : []));
  const failed = rollouts.filter((r) => r.failure);
  const rolledBack = rollouts.filter((r) => r.phase === 'RolledBack' && !r.failure);
  const prev = f.previousDegraded;
  if (failed.length)
    problems.push({
      reason: failed[0]!.failure!.reason,
      messages: failed.map((r) => `${r.name}: ${r.failure!.message}`),
    });
  else if (rolledBack.length) {
    // the failure was decided by an earlier pass: its reason and message stay while rolled back
    if (prev?.status === 'True' && ROLLBACK_REASONS.includes(prev.reason))
      return { status: 'True', reason: prev.reason, message: prev.message };
    problems.push({
      reason: Reason.RolledBack,
      messages: rolledBack.map((r) => `${r.name}: ${r.canaryVersion} rolled back to ${r.stableVersion}`),
    });
  }
  const refusals = f.segments.flatMap((s) => s.refusals);
  if (refusals.length)
    problems.push({
      reason: refusals.every((r) => r.code === 'fingerprint')
        ? Reason.FingerprintMismatch
        : Reason.ModelRejected,
      messages: refusals.map((r) => r.message),
    });
  const unplaced = f.segments.flatMap((s) => s.unschedulable);
  if (unplaced.length) problems.push({ reason: Reason.PodsUnschedulable, messages: unplaced });
  const stuck = f.segments.filter((s) => s.stuck);
  if (stuck.length)
    problems.push({
      reason: Reason.ProgressDeadlineExceeded,
      messages: stuck.map((s) => `${s.name}: ${s.stuck}`),
    });
  const blind = rollouts.filter(
    (r) => r.phase === 'Progressing' && r.lastAnalysis?.reason === Reason.AnalysisUnavailable,
  );
  if (blind.length)
    problems.push({
      reason: Reason.AnalysisUnavailable,
      messages: blind.map(
        (r) =>
          `${r.name}: analysis cannot query Prometheus (${r.lastAnalysis!.message}); the rollout holds at ${r.canaryWeight}%`,
      ),
    });
  if (!problems.length) return { status: 'False', reason: Reason.AsExpected, message: 'no problems' };
  return {
    status: 'True',
    reason: problems[0]!.reason,
    message: problems.flatMap((p) => p.messages).join('; '),
  };
}

function snapshotsInSync(f: Facts): Verdict {
  const {
    type: _t,
    observedGeneration: _g,
    ...v
  } = snapshotsCondition(
    f.segments.map((s) => ({ name: s.name, snapshot: s.snapshot })),
    f.generation,
  );
  return v;
}

const pods = (n: number) => `${n} ${n === 1 ? 'pod' : 'pods'}`;

/**
 * SnapshotsInSync over the segments, first match wins: False on a refused snapshot
 * (FingerprintMismatch when all are of another item tower, else SnapshotRejected), on pods on
 * different versions or behind storage's LATEST (SnapshotStale); Unknown while a serving segment
 * has not reported; else True. Over the segments that have ready pods (a segment scaled to zero
 * serves nothing).
 */
export function snapshotsCondition(
  segments: readonly { name: string; snapshot: SegmentSnapshot }[],
  generation: number,
): ConditionInput {
  const cond = (status: ConditionInput['status'], reason: string, message: string): ConditionInput => ({
    type: ConditionType.SnapshotsInSync,
    status,
    reason,
    message,
    observedGeneration: generation,
  });
  const refused = segments.filter((s) => s.snapshot.refused.length);
  if (refused.length)
    return cond(
      'False',
      // snapshots of another item tower: the classic two-tower skew gets its own reason
      refused.every((s) => s.snapshot.refused.every((r) => refusalCode(r) === 'fingerprint'))
        ? Reason.FingerprintMismatch
        : Reason.SnapshotRejected,
      refused.map((s) => `${s.name}: refused ${s.snapshot.refused.join('; ')}`).join('; '),
    );
  const split = segments.filter((s) => s.snapshot.versions.length > 1);
  if (split.length)
    return cond(
      'False',
      Reason.SnapshotStale,
      split
        .map(
          (s) =>
            `${s.name}: pods on different versions (${s.snapshot.versions
              .map(([v, n]) => `${pods(n)} on ${v}`)
              .join(', ')})`,
        )
        .join('; '),
    );
  const behind = segments.filter((s) => s.snapshot.behind.length);
  if (behind.length)
    return cond(
      'False',
      Reason.SnapshotStale,
      behind
        .map(
          (s) =>
            `${s.name}: storage's LATEST is ${s.snapshot.behind
              .map(([latest, n]) => `${latest} (read by ${pods(n)})`)
              .join(', ')}; the ready pods serve ${s.snapshot.snapshotVersion}`,
        )
        .join('; '),
    );
  const serving = segments.filter((s) => s.snapshot.versions.length || s.snapshot.unreported);
  const waiting = serving.filter((s) => s.snapshot.unreported || !s.snapshot.versions.length);
  if (!serving.length)
    return cond('Unknown', Reason.SnapshotsNotReported, 'no ready pod has reported a snapshot yet');
  if (waiting.length)
    return cond(
      'Unknown',
      Reason.SnapshotsNotReported,
      waiting
        .map((s) => `${s.name}: ${pods(s.snapshot.unreported)} ready without a reported snapshot`)
        .join('; '),
    );
  return cond(
    'True',
    Reason.SnapshotsCurrent,
    serving
      .map((s) => `${s.name}: ${s.snapshot.snapshotVersion} (${pods(s.snapshot.versions[0]![1])})`)
      .join('; '),
  );
}

// ---- phase ----------------------------------------------------------------------------------

/** Progressing reasons that mean a rollout is in flight. */
const ROLLOUT_REASONS: readonly string[] = [
  Reason.RolloutInProgress,
  Reason.RolloutPaused,
  Reason.CapacityBlocked,
];

/**
 * The phase, from the conditions alone, first match wins: Failed (an invalid spec), Degraded
 * (Degraded=True, a rollout in flight or not), Progressing (a rollout in flight), Ready, Pending.
 */
export function phaseOf(conditions: readonly ConditionInput[]): Phase {
  const c = (type: string) => conditions.find((x) => x.type === type);
  const degraded = c(ConditionType.Degraded);
  if (degraded?.status === 'True') return degraded.reason === Reason.InvalidSpec ? 'Failed' : 'Degraded';
  if (ROLLOUT_REASONS.includes(c(ConditionType.Progressing)?.reason ?? '')) return 'Progressing';
  if (c(ConditionType.Ready)?.status === 'True') return 'Ready';
  return 'Pending';
}

// ---- summary --------------------------------------------------------------------------------

function segmentSummary(s: SegmentFacts): SegmentStatus {
  const base = segmentStatus(s.observation, s.snapshot);
  const r = s.rollout;
  if (!r) return base;
  const inFlight = r.phase === 'Progressing';
  // replicas / readyReplicas stay the stable track's: the canary's pods are not counted, or a
  // 1-replica segment would read 2 ready of 1 during a rollout
  return {
    ...base,
    stableVersion: r.stableVersion,
    ...(r.phase !== 'Stable' && r.canaryVersion ? { canaryVersion: r.canaryVersion } : {}),
    canaryWeight: r.canaryWeight,
    rolloutPhase: r.phase,
    ...(inFlight && r.rolloutStep !== undefined ? { rolloutStep: r.rolloutStep } : {}),
    ...(inFlight && r.stepStartTime ? { stepStartTime: r.stepStartTime } : {}),
    ...(r.canaryScaleDownAt ? { canaryScaleDownAt: r.canaryScaleDownAt } : {}),
    ...(r.lastAnalysis ? { lastAnalysis: r.lastAnalysis } : {}),
  };
}

/**
 * The printer columns of a rollout in flight (Argo's `kubectl argo rollouts get` says the same):
 * canary version @ weight and step, per rolling segment; the segment is named when the model has
 * several.
 */
function rolloutColumns(
  model: RankingModel,
  segments: readonly SegmentStatus[],
): { canary?: string; step?: string; analysis?: string } {
  const rolling = segments.filter((s) => s.rolloutPhase === 'Progressing' && s.canaryVersion);
  if (!rolling.length) return {};
  const n = model.spec.rollout.steps.length;
  const named = (s: SegmentStatus, text: string) => (segments.length > 1 ? `${s.name}=${text}` : text);
  const analysed = rolling.filter((s) => s.lastAnalysis);
  return {
    canary: rolling.map((s) => named(s, `${s.canaryVersion}@${s.canaryWeight}%`)).join(','),
    step: rolling.map((s) => named(s, `${(s.rolloutStep ?? 0) + 1}/${n}`)).join(','),
    ...(analysed.length ? { analysis: analysed.map((s) => named(s, s.lastAnalysis!.result)).join(',') } : {}),
  };
}

/**
 * The status the model should have; its current conditions keep their transition times. With
 * `router` (routing.mode router), Ready also needs the router: requests reach the segments
 * through it. `rollouts` is each segment's rollout pass.
 */
export function computeStatus(
  model: RankingModel,
  observations: SegmentObservation[],
  now: Date,
  router?: RouterObservation,
  rollouts: readonly SegmentRolloutState[] = [],
): RankingModelStatus {
  const f = gather(model, observations, router, rollouts);
  const conditions: ConditionInput[] = [
    { type: ConditionType.Ready, ...ready(f), observedGeneration: f.generation },
    { type: ConditionType.Progressing, ...progressing(f), observedGeneration: f.generation },
    { type: ConditionType.Degraded, ...degraded(f), observedGeneration: f.generation },
    { type: ConditionType.SnapshotsInSync, ...snapshotsInSync(f), observedGeneration: f.generation },
  ];
  const limited = scaleLimited(observations);
  if (limited)
    conditions.push({ type: ConditionType.ScaleLimited, ...limited, observedGeneration: f.generation });
  const segments = f.segments.map(segmentSummary);
  const phases = segments.map((s) => s.rolloutPhase);
  const rolloutPhase: RolloutPhase = phases.includes('Progressing')
    ? 'Progressing'
    : phases.includes('RolledBack')
      ? 'RolledBack'
      : 'Stable';
  const deciding = conditions.find(
    (c) =>
      c.type === (phaseOf(conditions) === 'Degraded' ? ConditionType.Degraded : ConditionType.Progressing),
  );
  return {
    observedGeneration: f.generation,
    phase: phaseOf(conditions),
    readySegments: `${f.segments.filter((s) => s.ready).length}/${f.segments.length}`,
    modelVersion: [...new Set(segments.map((s) => s.stableVersion).filter(Boolean))].join(','),
    ...urlOf(model),
    rolloutPhase,
    ...rolloutColumns(model, segments),
    scale: scaleColumn(observations),
    ...(deciding ? { reason: deciding.reason } : {}),
    // ScaleLimited only while a segment autoscales: turned off, the condition goes
    conditions: setConditions(
      model.status?.conditions?.filter((c) => limited || c.type !== ConditionType.ScaleLimited),
      conditions,
      now,
    ),
    segments,
  };
}

/**
 * Where callers in the cluster send the model's requests (mode router): its router's Service, or the
 * namespace's shared one; the paths name the model. Mode gatewayAPI: the Gateway's address, which the
 * operator does not own, so none.
 */
export function urlOf(model: RankingModel): { url?: string } {
  if ((model.spec.routing?.mode ?? 'router') !== 'router') return {};
  const service = usesSharedRouter(model) ? SHARED_ROUTER_NAME : routerName(model.metadata.name);
  return { url: `http://${service}.${model.metadata.namespace}.svc:${SERVER_PORT}` };
}

/** The status of a spec the operator cannot act on (it passed the API server but not the schema). */
export function invalidSpecStatus(
  model: { metadata: { generation?: number }; status?: RankingModelStatus },
  message: string,
  now: Date,
): RankingModelStatus {
  return failedStatus(model, Reason.InvalidSpec, message, now, true);
}

/**
 * The status of a pass that failed (an API error; retried with backoff): Degraded=True/ApplyFailed
 * with the error, the rest as last written.
 */
export function failedPassStatus(
  model: { metadata: { generation?: number }; status?: RankingModelStatus },
  message: string,
  now: Date,
): RankingModelStatus {
  return failedStatus(model, Reason.ApplyFailed, message, now, false);
}

function failedStatus(
  model: { metadata: { generation?: number }; status?: RankingModelStatus },
  reason: string,
  message: string,
  now: Date,
  notReady: boolean,
): RankingModelStatus {
  const generation = model.metadata.generation ?? 0;
  const conditions = setConditions(
    model.status?.conditions,
    [
      ...(notReady
        ? [
            {
              type: ConditionType.Ready,
              status: 'False' as const,
              reason,
              message,
              observedGeneration: generation,
            },
          ]
        : []),
      { type: ConditionType.Degraded, status: 'True', reason, message, observedGeneration: generation },
    ],
    now,
  );
  return {
    ...model.status,
    ...(notReady ? { observedGeneration: generation } : {}),
    phase: phaseOf(conditions),
    reason,
    conditions,
  };
}
