import { describe, expect, it } from 'vitest';
import { PodAnnotation } from '../api/pod-annotations.js';
import { RankingModelSpecSchema, type RankingModel } from '../api/rankingmodel.js';
import { resolveSegments } from '../api/resolve.js';
import type { Deployment } from './builders.js';
import type { KubeObject } from './runtime/kube/types.js';
import { statusUnchanged } from './reconciler.js';
import { computeStatus, invalidSpecStatus, segmentReady, urlOf, type SegmentObservation } from './status.js';
import { Reason } from '../api/conditions.js';
import type { SegmentRolloutState } from './rollout/segment.js';

const m: RankingModel = {
  apiVersion: 'lightrank.dev/v1alpha1',
  kind: 'RankingModel',
  metadata: { name: 'ads', namespace: 'n', uid: 'u', generation: 4 },
  spec: RankingModelSpecSchema.parse({
    model: { uri: 's3://m/a', sha256: 'a'.repeat(64), version: 'v2', towerFingerprint: 'fp', tasks: ['ctr'] },
    snapshot: { uri: 's3://s/a' },
    segments: [
      { name: 'standard', replicas: 2 },
      { name: 'shopping', replicas: 1 },
    ],
  }),
};
const segs = resolveSegments(m.spec, { image: 'i' });

function dep(generation: number, st: Record<string, unknown>): Deployment {
  return { metadata: { name: 'd', generation }, spec: {}, status: st };
}
const ready2 = dep(1, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2 });
const ready1 = dep(1, { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1 });
const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2026-01-01T00:05:00Z');

describe('segmentReady', () => {
  it('needs the current generation rolled out with every replica ready', () => {
    const seg = segs[0]!;
    expect(segmentReady({ segment: seg, deployment: ready2 })).toBe(true);
    expect(segmentReady({ segment: seg, deployment: undefined })).toBe(false);
    expect(
      segmentReady({
        segment: seg,
        deployment: dep(2, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2 }),
      }),
    ).toBe(false);
    expect(
      segmentReady({
        segment: seg,
        deployment: dep(1, { observedGeneration: 1, replicas: 3, updatedReplicas: 2, readyReplicas: 2 }),
      }),
    ).toBe(false);
    expect(
      segmentReady({
        segment: seg,
        deployment: dep(1, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 1 }),
      }),
    ).toBe(false);
  });
});

describe('computeStatus', () => {
  const pending: SegmentObservation[] = [
    { segment: segs[0]!, deployment: ready2 },
    { segment: segs[1]!, deployment: undefined },
  ];
  const all: SegmentObservation[] = [
    { segment: segs[0]!, deployment: ready2 },
    { segment: segs[1]!, deployment: ready1 },
  ];

  it('reports Pending with the segments still waiting', () => {
    const s = computeStatus(m, pending, T0);
    expect(s).toMatchObject({
      observedGeneration: 4,
      phase: 'Pending',
      readySegments: '1/2',
      modelVersion: 'v2',
      rolloutPhase: 'Stable',
    });
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ReplicasUnavailable',
      message: 'segments not ready: shopping',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
    expect(s.conditions?.find((c) => c.type === 'Progressing')?.status).toBe('True');
    expect(s.segments).toEqual([
      {
        name: 'standard',
        replicas: 2,
        readyReplicas: 2,
        stableVersion: 'v2',
        canaryWeight: 0,
        rolloutPhase: 'Stable',
      },
      {
        name: 'shopping',
        replicas: 1,
        readyReplicas: 0,
        stableVersion: 'v2',
        canaryWeight: 0,
        rolloutPhase: 'Stable',
      },
    ]);
  });

  it('turns Ready, moving transition times only for flipped conditions, and then stays equal', () => {
    const before = computeStatus(m, pending, T0);
    const after = computeStatus({ ...m, status: before }, all, T1);
    expect(after.phase).toBe('Ready');
    const ready = after.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({
      status: 'True',
      reason: 'DeploymentsReady',
      lastTransitionTime: '2026-01-01T00:05:00Z',
    });
    expect(after.conditions?.find((c) => c.type === 'Degraded')?.lastTransitionTime).toBe(
      '2026-01-01T00:00:00Z',
    );
    // a later pass with nothing changed computes the same status: no write
    const again = computeStatus({ ...m, status: after }, all, new Date('2026-01-01T01:00:00Z'));
    expect(statusUnchanged(again, after)).toBe(true);
    expect(statusUnchanged(after, before)).toBe(false);
    expect(statusUnchanged(after, undefined)).toBe(false);
  });

  it('sees a dropped rollout field (a canary scale-down time once the canary is gone) as a change', () => {
    const now = computeStatus(m, all, T1);
    const seg = now.segments![0]!;
    const pending = { ...now, segments: [{ ...seg, canaryScaleDownAt: '2026-01-01T00:05:30Z' }] };
    expect(statusUnchanged(now, pending)).toBe(false);
    expect(statusUnchanged(pending, pending)).toBe(true);
  });

  it('reports Degraded when a Deployment exceeded its progress deadline', () => {
    const stuck = dep(1, {
      observedGeneration: 1,
      replicas: 1,
      conditions: [
        {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: 'ReplicaSet "x" has timed out progressing.',
        },
      ],
    });
    const s = computeStatus(
      m,
      [
        { segment: segs[0]!, deployment: ready2 },
        { segment: segs[1]!, deployment: stuck },
      ],
      T0,
    );
    expect(s.phase).toBe('Degraded');
    expect(s.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'ProgressDeadlineExceeded',
      message: 'shopping: ReplicaSet "x" has timed out progressing.',
    });
  });
});

describe('invalidSpecStatus', () => {
  it('marks the model Failed with the message', () => {
    const s = invalidSpecStatus({ metadata: { generation: 9 } }, 'spec.segments: required', T0);
    expect(s.phase).toBe('Failed');
    expect(s.observedGeneration).toBe(9);
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'InvalidSpec',
      message: 'spec.segments: required',
    });
  });
});

describe('computeStatus: snapshots', () => {
  const pod = (name: string, version: string | undefined): KubeObject => ({
    metadata: {
      name,
      annotations: version
        ? {
            [PodAnnotation.SnapshotVersion]: version,
            [PodAnnotation.SnapshotCreatedAt]: '2026-01-01T00:00:00Z',
          }
        : {},
    },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });

  it('fills segments[].snapshotVersion/snapshotTime and SnapshotsInSync, and a repeat pass writes nothing', () => {
    const observed: SegmentObservation[] = [
      { segment: segs[0]!, deployment: ready2, pods: [pod('a', 'v7'), pod('b', 'v7')] },
      { segment: segs[1]!, deployment: ready1, pods: [pod('c', 'v7')] },
    ];
    const s = computeStatus(m, observed, T0);
    expect(s.segments).toEqual([
      expect.objectContaining({
        name: 'standard',
        snapshotVersion: 'v7',
        snapshotTime: '2026-01-01T00:00:00Z',
      }),
      expect.objectContaining({ name: 'shopping', snapshotVersion: 'v7' }),
    ]);
    expect(s.conditions?.find((c) => c.type === 'SnapshotsInSync')).toMatchObject({
      status: 'True',
      reason: 'SnapshotsCurrent',
      message: 'standard: v7 (2 pods); shopping: v7 (1 pod)',
    });
    expect(statusUnchanged(computeStatus({ ...m, status: s }, observed, T1), s)).toBe(true);

    // one pod moves on: the condition flips, and a version no pod reports any more is dropped
    const split = computeStatus(
      { ...m, status: s },
      [
        { ...observed[0]!, pods: [pod('a', 'v7'), pod('b', 'v8')] },
        { ...observed[1]!, pods: [pod('c', undefined)] },
      ],
      T1,
    );
    expect(split.conditions?.find((c) => c.type === 'SnapshotsInSync')).toMatchObject({
      status: 'False',
      reason: 'SnapshotStale',
      lastTransitionTime: '2026-01-01T00:05:00Z',
    });
    expect(split.segments?.[1]).not.toHaveProperty('snapshotVersion');
    expect(statusUnchanged(split, s)).toBe(false);
  });
});

describe('why a segment waits (Progressing)', () => {
  const pod = (phase: string | undefined, ready = false): KubeObject => ({
    metadata: { name: 'p' },
    status: phase ? { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } : {},
  });
  const notReady = dep(1, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 0 });
  const progressing = (obs: SegmentObservation[]) =>
    computeStatus(m, obs, T0).conditions?.find((c) => c.type === 'Progressing');

  it('says PodsNotReady when the pods run but are not ready (a sync problem, not scheduling)', () => {
    const c = progressing([
      { segment: segs[0]!, deployment: notReady, pods: [pod('Running'), pod('Running')] },
      { segment: segs[1]!, deployment: ready1, pods: [pod('Running', true)] },
    ]);
    expect(c?.reason).toBe(Reason.PodsNotReady);
    expect(c?.message).toBe(
      "waiting for standard (2 pod(s) running, not ready: the sidecar's /readyz says why)",
    );
  });

  it('says PodsPending while any waiting segment has pods not running yet, or none at all', () => {
    const c = progressing([
      { segment: segs[0]!, deployment: notReady, pods: [pod('Running'), pod('Pending')] },
      { segment: segs[1]!, deployment: undefined, pods: [] },
    ]);
    expect(c?.reason).toBe(Reason.PodsPending);
    expect(c?.message).toBe('waiting for standard (1 pod(s) pending), shopping');
  });
});

describe('a model the pods refused (Degraded)', () => {
  const refusing = (name: string, cause: string): KubeObject => ({
    metadata: { name, annotations: { [PodAnnotation.ModelRefused]: cause } },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] },
  });
  const notReady = dep(1, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 0 });

  it('says ModelRejected with the version, the cause and how many pods, and the phase is Degraded', () => {
    const cause = 'v2: checksum: sha256 ab…, the spec says cd…';
    const st = computeStatus(
      m,
      [
        { segment: segs[0]!, deployment: notReady, pods: [refusing('a', cause), refusing('b', cause)] },
        { segment: segs[1]!, deployment: ready1, pods: [] },
      ],
      T0,
    );
    const degraded = st.conditions?.find((c) => c.type === 'Degraded');
    expect(degraded).toMatchObject({ status: 'True', reason: Reason.ModelRejected });
    expect(degraded?.message).toBe(`standard: 2 pod(s) refused model ${cause}`);
    expect(st.phase).toBe('Degraded');
  });

  it('says FingerprintMismatch when every refusal is a model of another tower', () => {
    const other = 'v3: fingerprint: model fingerprint ab, the spec says cd';
    const observed = (pods: KubeObject[]) =>
      computeStatus(
        m,
        [
          { segment: segs[0]!, deployment: notReady, pods },
          { segment: segs[1]!, deployment: ready1, pods: [] },
        ],
        T0,
      ).conditions?.find((c) => c.type === 'Degraded');
    expect(observed([refusing('a', other)])).toMatchObject({
      status: 'True',
      reason: Reason.FingerprintMismatch,
      message: `standard: 1 pod(s) refused model ${other}`,
    });
    // one refusal of another kind among them: the general reason
    expect(observed([refusing('a', other), refusing('b', 'v3: checksum: sha256 ef')])?.reason).toBe(
      Reason.ModelRejected,
    );
  });

  it('is not degraded once the refusal is gone', () => {
    const st = computeStatus(
      m,
      [
        { segment: segs[0]!, deployment: ready2, pods: [] },
        { segment: segs[1]!, deployment: ready1, pods: [] },
      ],
      T0,
    );
    expect(st.conditions?.find((c) => c.type === 'Degraded')?.status).toBe('False');
    expect(st.phase).toBe('Ready');
  });
});

describe('the router (routing.mode router)', () => {
  const obs: SegmentObservation[] = [
    { segment: segs[0]!, deployment: ready2, pods: [] },
    { segment: segs[1]!, deployment: ready1, pods: [] },
  ];
  const router = (readyReplicas: number): Deployment => ({
    metadata: { name: 'ads-router', generation: 1 },
    spec: { replicas: 2 },
    status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas },
  });
  const cond = (st: ReturnType<typeof computeStatus>, type: string) =>
    st.conditions?.find((c) => c.type === type);

  it('keeps the model not Ready while the router is not, and says so', () => {
    const st = computeStatus(m, obs, T0, { name: 'ads-router', deployment: router(1) });
    expect(cond(st, 'Ready')).toMatchObject({
      status: 'False',
      message: 'not ready: router ads-router (1/2 ready)',
    });
    expect(cond(st, 'Progressing')?.message).toBe('waiting for router ads-router (1/2 ready)');
    expect(st.phase).toBe('Pending');
    const missing = computeStatus(m, obs, T0, { name: 'ads-router', deployment: undefined });
    expect(cond(missing, 'Ready')?.message).toBe('not ready: router ads-router (not created yet)');
  });

  it('is Ready once the router has its replicas ready', () => {
    const st = computeStatus(m, obs, T0, { name: 'ads-router', deployment: router(2) });
    expect(cond(st, 'Ready')?.status).toBe('True');
    expect(st.phase).toBe('Ready');
  });
});

describe('status during a rollout (one derivation: segments, router, rollouts)', () => {
  const obs: SegmentObservation[] = [
    { segment: segs[0]!, deployment: ready2, pods: [] },
    { segment: segs[1]!, deployment: ready1, pods: [] },
  ];
  const rolling: SegmentRolloutState = {
    name: 'standard',
    phase: 'Progressing',
    stableVersion: 'v1',
    canaryVersion: 'v2',
    canaryWeight: 20,
    rolloutStep: 0,
    canaryReadyReplicas: 1,
  };
  const cond = (st: ReturnType<typeof computeStatus>, type: string) =>
    st.conditions?.find((c) => c.type === type);

  it('counts the stable track only, and fills the printer columns (canary @ weight, step)', () => {
    const st = computeStatus(m, obs, T0, undefined, [rolling]);
    expect(st.segments![0]).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      canaryVersion: 'v2',
      canaryWeight: 20,
    });
    expect(st).toMatchObject({
      phase: 'Progressing',
      rolloutPhase: 'Progressing',
      canary: 'standard=v2@20%',
      step: 'standard=1/3',
      reason: 'RolloutInProgress',
    });
  });

  it('shows a base Degraded (stable pods refusing their model) as Degraded, not Progressing', () => {
    const refusing: KubeObject = {
      metadata: { name: 'a', annotations: { [PodAnnotation.ModelRefused]: 'v1: checksum: sha256 ab' } },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] },
    };
    const st = computeStatus(m, [{ ...obs[0]!, pods: [refusing] }, obs[1]!], T0, undefined, [rolling]);
    expect(cond(st, 'Degraded')).toMatchObject({ status: 'True', reason: 'ModelRejected' });
    expect(cond(st, 'Progressing')).toMatchObject({ status: 'True', reason: 'RolloutInProgress' });
    expect(st.phase).toBe('Degraded');
    expect(st.reason).toBe('ModelRejected');
  });

  it('says AnalysisUnavailable when Prometheus cannot be queried, and the rollout holds', () => {
    const blind: SegmentRolloutState = {
      ...rolling,
      lastAnalysis: {
        result: 'Inconclusive',
        message: 'Prometheus at http://prom:9090 unreachable: connect ECONNREFUSED',
        time: '2026-01-01T00:00:00Z',
        reason: 'AnalysisUnavailable',
      },
    };
    const st = computeStatus(m, obs, T0, undefined, [blind]);
    expect(cond(st, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'AnalysisUnavailable',
      message:
        'standard: analysis cannot query Prometheus (Prometheus at http://prom:9090 unreachable: connect ECONNREFUSED); the rollout holds at 20%',
    });
    expect(st.phase).toBe('Degraded');
    // too little traffic for a verdict is not a problem
    const quiet = computeStatus(m, obs, T0, undefined, [
      {
        ...rolling,
        lastAnalysis: { result: 'Inconclusive', message: 'canary served 3 requests', time: 'x' },
      },
    ]);
    expect(cond(quiet, 'Degraded')?.status).toBe('False');
  });
});

describe('pods the scheduler cannot place', () => {
  const unschedulable = (name: string, track: string): KubeObject => ({
    metadata: { name, labels: { 'lightrank.dev/track': track } },
    status: {
      phase: 'Pending',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message: '0/4 nodes are available: 2 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint.',
        },
      ],
    },
  });
  const pending = dep(2, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 0 });

  it("says PodsUnschedulable in the scheduler's words, per track", () => {
    const st = computeStatus(
      m,
      [
        {
          segment: segs[0]!,
          deployment: pending,
          pods: [unschedulable('a', 'stable'), unschedulable('b', 'stable')],
        },
        { segment: segs[1]!, deployment: ready1, pods: [unschedulable('c', 'canary')] },
      ],
      T0,
    );
    expect(st.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'PodsUnschedulable',
      message:
        'standard: 2 stable pod(s) cannot be scheduled: 0/4 nodes are available: 2 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint.; shopping: 1 canary pod(s) cannot be scheduled: 0/4 nodes are available: 2 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint.',
    });
    expect(st.phase).toBe('Degraded');
  });
});

describe('statusUnchanged', () => {
  it('sees the printer columns of a rollout that ended go as a change', () => {
    const done = computeStatus(m, [{ segment: segs[0]!, deployment: ready2 }], T0);
    expect(statusUnchanged(done, { ...done, canary: 'v2@20%', step: '1/3' })).toBe(false);
    expect(statusUnchanged(done, done)).toBe(true);
  });
});

describe('status.url', () => {
  const routed = (routing: Record<string, unknown>): RankingModel => ({
    ...m,
    spec: RankingModelSpecSchema.parse({ ...m.spec, routing }),
  });

  it("names the model's own router, the namespace's shared one, or nothing in gatewayAPI mode", () => {
    expect(computeStatus(m, [{ segment: segs[0]!, deployment: ready2 }], T0).url).toBe(
      'http://ads-router.n.svc:8080',
    );
    expect(urlOf(routed({ routerScope: 'namespace' }))).toEqual({ url: 'http://lightrank.n.svc:8080' });
    const gateway = routed({ mode: 'gatewayAPI', parentRefs: [{ name: 'gw' }] });
    expect(urlOf(gateway)).toEqual({});
    expect(computeStatus(gateway, [{ segment: segs[0]!, deployment: ready2 }], T0)).not.toHaveProperty('url');
  });
});
