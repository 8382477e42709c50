// The RankingModel status as a pure function of the model and the live Deployments it owns:
// per-segment replicas and versions, the snapshot its stable pods serve (operator/snapshots.ts),
// the printer-column summaries, and the Ready / Progressing / Degraded / SnapshotsInSync conditions (set the Kubernetes way via api/conditions.ts, so an unchanged status
// compares equal and the write is skipped).
import { ConditionType, Reason, setConditions, type ConditionInput } from '../api/conditions.js';
import type { Phase, RankingModel, RankingModelStatus, SegmentStatus } from '../api/rankingmodel.js';
import type { ResolvedSegment } from '../api/resolve.js';
import type { Deployment } from './builders.js';
import { PodAnnotation, refusalCode } from '../api/pod-annotations.js';
import type { KubeObject } from './kube/types.js';
import { podSnapshotReport, segmentSnapshot, snapshotsCondition, type SegmentSnapshot } from './snapshots.js';

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
  /** The segment's stable-track pods, annotated by their sidecars with the snapshot they serve. */
  pods?: readonly KubeObject[];
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
  for (const p of o.pods ?? []) {
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
  for (const p of o.pods ?? []) {
    const refused = p.metadata.annotations?.[PodAnnotation.ModelRefused];
    if (refused && !p.metadata.deletionTimestamp) counts.set(refused, (counts.get(refused) ?? 0) + 1);
  }
  return [...counts].map(([r, n]) => ({
    message: `${o.segment.name}: ${n} pod(s) refused model ${r}`,
    code: refusalCode(r),
  }));
}

function observedSnapshot(o: SegmentObservation): SegmentSnapshot {
  return segmentSnapshot((o.pods ?? []).map(podSnapshotReport));
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
  };
}

/** The model's router (routing.mode router): its Deployment, or undefined before it exists. */
export interface RouterObservation {
  name: string;
  deployment: Deployment | undefined;
}

/**
 * The status the model should have; its current conditions keep their transition times. With
 * `router` (routing.mode router), Ready also needs the router: requests reach the segments
 * through it.
 */
export function computeStatus(
  model: RankingModel,
  observations: SegmentObservation[],
  now: Date,
  router?: RouterObservation,
): RankingModelStatus {
  const generation = model.metadata.generation ?? 0;
  const ready = observations.filter(segmentReady);
  // e.g. "router ads-router (1/2 ready)"
  const routerWant = (router?.deployment?.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const routerWait =
    !router || deploymentReady(router.deployment, routerWant)
      ? undefined
      : router.deployment
        ? `router ${router.name} (${deploymentStatus(router.deployment).readyReplicas ?? 0}/${routerWant} ready)`
        : `router ${router.name} (not created yet)`;
  const allReady = ready.length === observations.length && routerWait === undefined;
  const stuck = observations
    .map((o) => ({ name: o.segment.name, why: progressDeadlineExceeded(o.deployment) }))
    .filter((x): x is { name: string; why: string } => x.why !== undefined);
  const waitingObs = observations.filter((o) => !segmentReady(o));
  const waiting = waitingObs.map((o) => o.segment.name);
  const waits = waitingObs.map(segmentWait);
  const refusals = observations.flatMap(modelRefusals);
  const allZero = observations.every((o) => o.segment.replicas === 0);
  const snapshots = observations.map((o) => ({ name: o.segment.name, snapshot: observedSnapshot(o) }));

  const conditions: ConditionInput[] = [
    allReady
      ? {
          type: ConditionType.Ready,
          status: 'True',
          reason: allZero ? Reason.ScaledToZero : Reason.DeploymentsReady,
          message: allZero
            ? 'every segment is scaled to zero'
            : `all ${observations.length} segments have their replicas ready`,
          observedGeneration: generation,
        }
      : {
          type: ConditionType.Ready,
          status: 'False',
          reason: Reason.ReplicasUnavailable,
          message: [
            ...(waiting.length ? [`segments not ready: ${waiting.join(', ')}`] : []),
            ...(routerWait ? [`not ready: ${routerWait}`] : []),
          ].join('; '),
          observedGeneration: generation,
        },
    allReady
      ? {
          type: ConditionType.Progressing,
          status: 'False',
          reason: Reason.Reconciled,
          message: 'desired state reached',
          observedGeneration: generation,
        }
      : {
          type: ConditionType.Progressing,
          status: 'True',
          // running but not ready everywhere it waits: a sync problem, not scheduling
          reason:
            waits.some((w) => w.pending) || (routerWait && !waits.length)
              ? Reason.PodsPending
              : Reason.PodsNotReady,
          message: `waiting for ${[...waits.map((w) => w.text), ...(routerWait ? [routerWait] : [])].join(', ')}`,
          observedGeneration: generation,
        },
    refusals.length
      ? {
          type: ConditionType.Degraded,
          status: 'True',
          reason: refusals.every((r) => r.code === 'fingerprint')
            ? Reason.FingerprintMismatch
            : Reason.ModelRejected,
          message: [...refusals.map((r) => r.message), ...stuck.map((x) => `${x.name}: ${x.why}`)].join('; '),
          observedGeneration: generation,
        }
      : stuck.length
        ? {
            type: ConditionType.Degraded,
            status: 'True',
            reason: Reason.ProgressDeadlineExceeded,
            message: stuck.map((s) => `${s.name}: ${s.why}`).join('; '),
            observedGeneration: generation,
          }
        : {
            type: ConditionType.Degraded,
            status: 'False',
            reason: Reason.AsExpected,
            message: 'no problems',
            observedGeneration: generation,
          },
    snapshotsCondition(snapshots, generation),
  ];
  const phase: Phase = stuck.length || refusals.length ? 'Degraded' : allReady ? 'Ready' : 'Pending';
  const versions = [...new Set(observations.map((o) => o.segment.model.version))];
  return {
    observedGeneration: generation,
    phase,
    readySegments: `${ready.length}/${observations.length}`,
    modelVersion: versions.join(','),
    rolloutPhase: 'Stable',
    conditions: setConditions(model.status?.conditions, conditions, now),
    segments: observations.map((o, i) => segmentStatus(o, snapshots[i]!.snapshot)),
  };
}

/** The status of a spec the operator cannot act on (it passed the API server but not the schema). */
export function invalidSpecStatus(
  model: { metadata: { generation?: number }; status?: RankingModelStatus },
  message: string,
  now: Date,
): RankingModelStatus {
  const generation = model.metadata.generation ?? 0;
  return {
    ...model.status,
    observedGeneration: generation,
    phase: 'Failed',
    conditions: setConditions(
      model.status?.conditions,
      [
        {
          type: ConditionType.Ready,
          status: 'False',
          reason: Reason.InvalidSpec,
          message,
          observedGeneration: generation,
        },
        {
          type: ConditionType.Degraded,
          status: 'True',
          reason: Reason.InvalidSpec,
          message,
          observedGeneration: generation,
        },
      ],
      now,
    ),
  };
}
