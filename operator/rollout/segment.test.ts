// The rollout state machine of one segment, one pass at a time, with in-memory fakes for its
// side effects (RolloutOps, a TrafficProvider): the transitions a cluster test cannot reach
// quickly (an inconclusive analysis outlasting its deadline, autoRollback off), and the canary
// kept for scaleDownDelaySeconds after a rollback or promotion.
import { describe, expect, it } from 'vitest';
import { RankingModelSpecSchema, type RankingModel, type SegmentStatus } from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';
import { minimalSpec } from '../../api/testing.js';
import { createLogger } from '../../lib/logger.js';
import type { AnalysisOutcome } from '../analysis/analysis.js';
import { buildDeployment, type Deployment } from '../builders.js';
import type { TrafficProvider } from '../traffic/provider.js';
import { SegmentRollout, canaryScaleDown, type RolloutOps, type SegmentContext } from './segment.js';
import { revisionOf, servingOf } from './serving.js';

const spec = RankingModelSpecSchema.parse({
  ...minimalSpec(),
  serving: { executionProvider: 'cpu' },
  rollout: {
    steps: [
      { weight: 10, pauseSeconds: 60 },
      { weight: 100, pauseSeconds: 0 },
    ],
    analysis: { prometheusAddress: 'http://prom:9090', intervalSeconds: 30 },
    progressDeadlineSeconds: 120,
  },
});
const model = (autoRollback = true): RankingModel => ({
  apiVersion: 'lightrank.dev/v1alpha1',
  kind: 'RankingModel',
  metadata: { name: 'ads', namespace: 'ns', uid: 'u' },
  spec: { ...spec, rollout: { ...spec.rollout, autoRollback } },
});
const [desired] = resolveSegments(spec, { image: 'img' });
const stable = {
  ...servingOf(desired!),
  model: { ...desired!.model, version: 'v0', sha256: 'c'.repeat(64) },
};

function readyCanary(replicas: number): Deployment {
  const d = buildDeployment(model(), desired!, 'canary', { sidecarImage: 'img' });
  return {
    ...d,
    spec: { ...d.spec, replicas },
    status: { observedGeneration: 1, readyReplicas: replicas, updatedReplicas: replicas },
  };
}

function harness(verdict: AnalysisOutcome['result']) {
  const calls: string[] = [];
  const weights: number[] = [];
  const provider: TrafficProvider = {
    mode: 'router',
    reconcile: async () => {},
    weight: () => 0,
    setWeight: async (_s, w) => void weights.push(w),
    verifyWeight: async () => true,
    removeManagedRoutes: async () => {},
  };
  const ops: RolloutOps = {
    applyTrackServices: async (canary, rb) =>
      void calls.push(canary ? `services${rb ? ` rolledBack=${rb}` : ''}` : 'stable service only'),
    applyStable: async (r) => void calls.push(`stable ${r.model.version}`),
    applyCanary: async (n) => void calls.push(`canary ${n}`),
    deleteCanary: async () => void calls.push('delete canary'),
    capacity: async () => undefined,
    analyze: async () => ({ result: verdict, message: `scripted ${verdict}`, measurements: {} }),
    event: async (e) => void calls.push(`event ${e.reason}`),
  };
  return { calls, weights, provider, ops };
}

function pass(
  h: ReturnType<typeof harness>,
  prev: SegmentStatus,
  now: Date,
  autoRollback = true,
  more: Partial<SegmentContext> = {},
) {
  return new SegmentRollout({
    model: model(autoRollback),
    desired: desired!,
    stable,
    stableLive: undefined,
    canaryLive: readyCanary(1),
    canaryRefusals: [],
    rolledBack: undefined,
    prev,
    controls: { paused: false, promote: undefined, abort: false, retry: false },
    now,
    provider: { ...h.provider, weight: () => prev.canaryWeight },
    ops: h.ops,
    log: createLogger('segment-test', { level: 'silent' }),
    ...more,
  }).run();
}

const start = new Date('2026-01-01T00:00:00Z');
const inFlight: SegmentStatus = {
  name: 'main',
  replicas: 1,
  readyReplicas: 1,
  stableVersion: 'v0',
  canaryVersion: 'v1',
  canaryWeight: 10,
  rolloutPhase: 'Progressing',
  rolloutStep: 0,
  stepStartTime: '2026-01-01T00:00:00Z',
};
const at = (s: number) => new Date(start.getTime() + s * 1000);

describe('canaryScaleDown', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it('waits delaySeconds from now when no time is recorded yet', () => {
    expect(canaryScaleDown(now, 30, undefined)).toEqual({
      remove: false,
      at: new Date('2026-01-01T00:00:30Z'),
      waitMs: 30_000,
    });
  });
  it('removes at once with a delay of 0', () => {
    expect(canaryScaleDown(now, 0, undefined)).toMatchObject({ remove: true, waitMs: 0 });
  });
  it('keeps to the recorded time (an earlier pass, or before a restart), not a fresh delay', () => {
    expect(canaryScaleDown(now, 30, '2026-01-01T00:00:05Z')).toMatchObject({ remove: false, waitMs: 5000 });
    expect(canaryScaleDown(now, 30, '2025-12-31T23:59:59Z')).toMatchObject({ remove: true, waitMs: -1000 });
  });
  it('ignores a recorded time that is not a date', () => {
    expect(canaryScaleDown(now, 2, 'soon')).toMatchObject({ remove: false, waitMs: 2000 });
  });
});

describe('one segment rollout pass', () => {
  it('has a canary Service only around a rollout: from its start, while a canary runs or carries weight', async () => {
    const settled: SegmentStatus = {
      name: 'main',
      replicas: 1,
      readyReplicas: 1,
      stableVersion: 'v1',
      canaryWeight: 0,
      rolloutPhase: 'Stable',
    };
    const onTarget = { ...stable, model: desired!.model };
    // no rollout, no canary, no weight: no canary Service (a new model never gets one)
    const idle = harness('Passed');
    await pass(idle, settled, at(0), true, { stable: onTarget, canaryLive: undefined });
    expect(idle.calls[0]).toBe('stable service only');
    // a promoted canary still running (or still weighted) keeps it until it is gone
    const promoted = harness('Passed');
    await pass(promoted, settled, at(0), true, { stable: onTarget });
    expect(promoted.calls[0]).toBe('services');
    const weighted = harness('Passed');
    await pass(weighted, { ...settled, canaryWeight: 10 }, at(0), true, {
      stable: onTarget,
      canaryLive: undefined,
    });
    expect(weighted.calls[0]).toBe('services');
    // a rollout starting: the canary Service comes before the canary Deployment
    const starting = harness('Passed');
    await pass(starting, settled, at(0), true, { canaryLive: undefined });
    expect(starting.calls.slice(0, 3)).toEqual(['services', 'event RolloutStarted', 'canary 1']);
  });

  it('rolls back at once when the canary pods refused the target model, not at the deadline', async () => {
    const notReady = {
      ...readyCanary(1),
      status: { observedGeneration: 1, readyReplicas: 0, updatedReplicas: 1 },
    };
    const h = harness('Passed');
    const s = await pass(h, inFlight, at(5), true, {
      canaryLive: notReady,
      canaryRefusals: ['v1: checksum: sha256 ab…, the spec says cd…'],
    });
    expect(s.phase).toBe('RolledBack');
    expect(s.failure).toEqual({
      reason: 'ModelRejected',
      message: 'canary pods refused model v1: checksum: sha256 ab…, the spec says cd…',
    });
    expect(h.calls).toContain('event RolledBack');

    // a refusal of another version (an earlier canary's) is not this canary's
    const other = harness('Passed');
    const waiting = await pass(other, inFlight, at(5), true, {
      canaryLive: notReady,
      canaryRefusals: ['v0: fingerprint differs'],
    });
    expect(waiting.phase).toBe('Progressing');
    expect(waiting.holding?.message).toMatch(/waiting for the canary: 0\/1 pods ready/);
  });

  it('holds the step while inconclusive, within pause + deadline', async () => {
    const h = harness('Inconclusive');
    const s = await pass(h, inFlight, at(150));
    expect(s).toMatchObject({ phase: 'Progressing', rolloutStep: 0, canaryWeight: 10 });
    expect(s.lastAnalysis?.result).toBe('Inconclusive');
    expect(s.holding?.message).toMatch(/waiting for a passing analysis/);
    expect(h.calls).not.toContain('delete canary');
  });

  it('fails and rolls back once inconclusive outlasts pause + progressDeadlineSeconds', async () => {
    const h = harness('Inconclusive');
    const s = await pass(h, inFlight, at(181));
    expect(s.phase).toBe('RolledBack');
    expect(s.failure).toMatchObject({ reason: 'AnalysisInconclusive' });
    expect(s.failure!.message).toMatch(/no verdict within .* \(180s\)/);
    // the rollback is recorded before the traffic moves; the canary goes scaleDownDelaySeconds later
    const marked = h.calls.findIndex((c) => c.startsWith('services rolledBack='));
    expect(marked).toBeGreaterThanOrEqual(0);
    expect(h.weights.at(-1)).toBe(0);
    expect(h.calls).not.toContain('delete canary');
    expect(s.canaryScaleDownAt).toBe(at(181 + 30).toISOString());
    expect(s.requeueAfterMs).toBe(30_000);
  });

  it('keeps a rolled-back canary until the recorded scale-down time (a restart included), then removes it', async () => {
    const rolledBack = {
      ...inFlight,
      rolloutPhase: 'RolledBack' as const,
      canaryWeight: 0,
      canaryScaleDownAt: at(211).toISOString(),
    };
    const more = { rolledBack: revisionOf(servingOf(desired!)) };
    const h = harness('Passed');
    const waiting = await pass(h, rolledBack, at(200), true, more);
    expect(waiting).toMatchObject({ phase: 'RolledBack', canaryWeight: 0 });
    expect(waiting.canaryScaleDownAt).toBe(at(211).toISOString());
    expect(waiting.requeueAfterMs).toBe(11_000);
    expect(h.calls).not.toContain('delete canary');
    const later = harness('Passed');
    const gone = await pass(later, rolledBack, at(211), true, more);
    expect(later.calls).toContain('delete canary');
    expect(gone.canaryScaleDownAt).toBeUndefined();
  });

  it('a promotion moves the traffic back and reports it at once; the canary goes after the delay', async () => {
    const promotedStable = servingOf(desired!);
    const d = buildDeployment(model(), desired!, 'stable', { sidecarImage: 'img' });
    const stableLive = {
      ...d,
      status: { observedGeneration: 1, readyReplicas: 1, updatedReplicas: 1, replicas: 1 },
    };
    const prev = { ...inFlight, rolloutStep: 1, canaryWeight: 100 };
    const h = harness('Passed');
    const s = await pass(h, prev, at(100), true, { stable: promotedStable, stableLive });
    expect(s).toMatchObject({ phase: 'Stable', canaryWeight: 0, promoted: true });
    expect(h.weights).toEqual([0]);
    expect(h.calls).toContain('event RolloutPromoted');
    expect(h.calls).not.toContain('delete canary');
    expect(s.canaryScaleDownAt).toBe(at(130).toISOString());
    // the next pass (status now Stable) waits on the recorded time, then removes the canary
    const after = {
      ...prev,
      rolloutPhase: 'Stable' as const,
      canaryWeight: 0,
      canaryScaleDownAt: s.canaryScaleDownAt,
    };
    const early = harness('Passed');
    expect(
      (await pass(early, after, at(129), true, { stable: promotedStable, stableLive })).promoted,
    ).toBeUndefined();
    expect(early.calls).not.toContain('delete canary');
    const due = harness('Passed');
    await pass(due, after, at(130), true, { stable: promotedStable, stableLive });
    expect(due.calls).toContain('delete canary');
  });

  it('holds a failed canary, Degraded, when autoRollback is off', async () => {
    const h = harness('Failed');
    const s = await pass(h, inFlight, at(5), false);
    expect(s.phase).toBe('Progressing');
    expect(s.failure).toMatchObject({ reason: 'AnalysisFailed' });
    expect(s.holding?.message).toMatch(/autoRollback is off/);
    expect(h.calls).not.toContain('delete canary');
  });

  it('advances after the pause on a passing verdict, and promotes after the last step', async () => {
    const h = harness('Passed');
    const early = await pass(h, inFlight, at(30));
    expect(early).toMatchObject({ rolloutStep: 0, canaryWeight: 10 });
    const next = await pass(harness('Passed'), inFlight, at(61));
    expect(next.rolloutStep).toBe(1);
    const last = harness('Passed');
    const done = await pass(
      last,
      { ...inFlight, rolloutStep: 1, canaryWeight: 100, stepStartTime: '2026-01-01T00:01:01Z' },
      at(62),
    );
    expect(last.calls).toContain('stable v1');
    expect(done.holding?.reason).toBe('RolloutPromoted');
  });

  it("scales the canary to the next step and waits for it Ready before that step's weight (scale before shift)", async () => {
    const four = { ...desired!, replicas: 4 };
    const step1 = { ...inFlight, rolloutStep: 1, stepStartTime: at(61).toISOString() };
    const pending = harness('Passed');
    const s = await pass(pending, step1, at(62), true, { desired: four, canaryLive: readyCanary(1) });
    expect(pending.calls).toContain('canary 4');
    expect(pending.weights).toEqual([]); // no weight written, the previous one holds
    expect(s).toMatchObject({ phase: 'Progressing', rolloutStep: 1, canaryWeight: 10 });
    expect(s.holding?.message).toBe(
      'step 2/2 holds the canary at 10%: waiting for the canary: 1/4 pods ready',
    );
    // scaled but not yet observed by the Deployment controller: still held, never 0
    const scaling = harness('Passed');
    const scaled = { ...readyCanary(4), metadata: { ...readyCanary(4).metadata, generation: 2 } };
    await pass(scaling, step1, at(63), true, { desired: four, canaryLive: scaled });
    expect(scaling.weights).toEqual([]);
    // all four Ready: the weight moves, and the step's clock starts with it
    const up = harness('Passed');
    const moved = await pass(up, step1, at(64), true, { desired: four, canaryLive: readyCanary(4) });
    expect(up.weights).toEqual([100]);
    expect(moved.stepStartTime).toBe(at(64).toISOString());
  });

  it('holds the previous weight and says so when the next step does not fit on the GPUs', async () => {
    const four = {
      ...desired!,
      replicas: 4,
      serving: { ...desired!.serving, executionProvider: 'cuda' as const },
    };
    const h = harness('Passed');
    h.ops.capacity = async () => ({
      resource: 'nvidia.com/gpu',
      nodes: 2,
      allocatable: 32,
      requested: 32,
      free: 0,
    });
    const step1 = { ...inFlight, rolloutStep: 1, stepStartTime: at(61).toISOString() };
    const s = await pass(h, step1, at(62), true, { desired: four, canaryLive: readyCanary(1) });
    expect(h.weights).toEqual([]);
    expect(h.calls).not.toContain('canary 4');
    expect(s).toMatchObject({ phase: 'Progressing', canaryWeight: 10 });
    expect(s.holding?.reason).toBe('CapacityBlocked');
    expect(s.holding?.message).toMatch(/; step 2\/2 holds the canary at 10% until it fits$/);
  });

  it('measures the canary every intervalSeconds during a step, and rolls a bad one back mid-pause', async () => {
    const passedAt1 = {
      ...inFlight,
      lastAnalysis: { result: 'Passed' as const, message: 'ok', time: at(1).toISOString() },
    };
    // 20 s into a 60 s pause with a verdict 19 s old: no query yet, but a look again at 31 s
    const quiet = harness('Passed');
    const waiting = await pass(quiet, passedAt1, at(20));
    expect(waiting.lastAnalysis?.time).toBe(at(1).toISOString());
    expect(waiting.requeueAfterMs).toBe(11_000);
    // at 31 s (one interval on) the canary is measured again; it turned bad: traffic back to stable
    const bad = harness('Failed');
    const s = await pass(bad, passedAt1, at(31));
    expect(s.phase).toBe('RolledBack');
    expect(s.failure?.reason).toBe('AnalysisFailed');
    expect(bad.weights).toEqual([0]);
  });
});

describe('an autoscaled segment', () => {
  const auto = {
    ...desired!,
    replicas: 4,
    autoscaling: {
      engine: 'hpa',
      minReplicas: 1,
      maxReplicas: 8,
      metric: 'requestsPerSecond',
      target: 10,
      behavior: { scaleUpStabilizationSeconds: 0, scaleDownStabilizationSeconds: 300 },
    },
  } as const;
  const stableAt = (ready: number): Deployment => ({
    ...buildDeployment(model(), { ...desired!, model: stable.model }, 'stable', { sidecarImage: 'img' }),
    spec: { replicas: 4 },
    status: { observedGeneration: 1, replicas: 4, readyReplicas: ready, updatedReplicas: ready },
  });

  it('sizes the canary from the stable’s current (autoscaled) count × the step weight', async () => {
    const h = harness('Passed');
    // step 1 of 2 at 10%: ceil(4 × 10%) = 1; with the stable autoscaled to 12, ceil(12 × 10%) = 2
    await pass(h, inFlight, at(1), true, { desired: { ...auto, replicas: 12 } });
    expect(h.calls).toContain('canary 2');
  });

  it('promotes only once the stable has every pod its autoscaler set ready', async () => {
    const promoting: SegmentStatus = { ...inFlight, canaryWeight: 100, rolloutStep: 1 };
    const done = { ...stable, model: desired!.model };
    const h = harness('Passed');
    const waiting = await pass(h, promoting, at(5), true, {
      desired: auto,
      stable: done,
      stableLive: stableAt(2), // 2 of the 4 the HPA set: the floor (1) is ready, the load is not
      canaryLive: readyCanary(4),
    });
    expect(waiting.holding?.message).toContain('waiting for the stable pods');
    expect(h.weights).toEqual([]);
    const h2 = harness('Passed');
    const promoted = await pass(h2, promoting, at(6), true, {
      desired: auto,
      stable: done,
      stableLive: stableAt(4),
      canaryLive: readyCanary(4),
    });
    expect(h2.weights).toEqual([0]);
    expect(promoted.promoted).toBe(true);
  });
});
