// Status pacing on statuses computeStatus derives: a new model's way to Ready counts progress
// (held back within the interval), its turn to Ready and any other change do not.
import { describe, expect, it } from 'vitest';
import { RankingModelSpecSchema, type RankingModel } from '../api/rankingmodel.js';
import { resolveSegments } from '../api/resolve.js';
import type { Deployment } from './builders.js';
import type { KubeObject } from './runtime/kube/types.js';
import { computeStatus, type SegmentObservation } from './status.js';
import { PROGRESS_WRITE_INTERVAL_MS, StatusPacer, progressOnly } from './status-pacing.js';

const m: RankingModel = {
  apiVersion: 'lightrank.dev/v1alpha1',
  kind: 'RankingModel',
  metadata: { name: 'ads', namespace: 'n', uid: 'u', generation: 1 },
  spec: RankingModelSpecSchema.parse({
    model: { uri: 's3://m/a', sha256: 'a'.repeat(64), version: 'v2', towerFingerprint: 'fp', tasks: ['ctr'] },
    snapshot: { uri: 's3://s/a' },
    segments: [
      { name: 'standard', replicas: 2 },
      { name: 'shopping', replicas: 1 },
    ],
  }),
};
const [standard, shopping] = resolveSegments(m.spec, { image: 'i' });

const dep = (replicas: number, ready: number): Deployment => ({
  metadata: { name: 'd', generation: 1 },
  spec: {},
  status: { observedGeneration: 1, replicas, updatedReplicas: replicas, readyReplicas: ready },
});
const pod = (phase: string, ready = false): KubeObject =>
  ({
    metadata: { name: `p-${phase}-${ready}`, labels: {} },
    status: { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  }) as KubeObject;
const T = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

/** The statuses a new model goes through, each pass computed over the previous one. */
function creation() {
  const passes: SegmentObservation[][] = [
    // objects just created: pods pending
    [
      { segment: standard!, deployment: dep(2, 0), pods: [pod('Pending'), pod('Pending')] },
      { segment: shopping!, deployment: dep(1, 0), pods: [pod('Pending')] },
    ],
    // running, not ready yet
    [
      { segment: standard!, deployment: dep(2, 0), pods: [pod('Running'), pod('Running')] },
      { segment: shopping!, deployment: dep(1, 0), pods: [pod('Running')] },
    ],
    // one segment ready
    [
      { segment: standard!, deployment: dep(2, 1), pods: [pod('Running', true), pod('Running')] },
      { segment: shopping!, deployment: dep(1, 1), pods: [pod('Running', true)] },
    ],
    // all ready
    [
      { segment: standard!, deployment: dep(2, 2), pods: [pod('Running', true), pod('Running', true)] },
      { segment: shopping!, deployment: dep(1, 1), pods: [pod('Running', true)] },
    ],
  ];
  const out = [];
  let status = undefined;
  for (const [i, observed] of passes.entries()) {
    status = computeStatus({ ...m, status }, observed, T(i));
    out.push(status);
  }
  return out;
}

describe('progressOnly', () => {
  it('sees pods pending → running → a segment ready as progress, and Ready as news', () => {
    const [created, running, oneReady, ready] = creation();
    expect(created!.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('PodsPending');
    expect(running!.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('PodsNotReady');
    expect(oneReady!.readySegments).toBe('1/2');
    expect(progressOnly(running!, created)).toBe(true);
    expect(progressOnly(oneReady!, running)).toBe(true);
    expect(progressOnly(oneReady!, created)).toBe(true);
    expect(ready!.phase).toBe('Ready');
    expect(progressOnly(ready!, oneReady)).toBe(false);
    // nothing live yet: the first status is always written
    expect(progressOnly(created!, undefined)).toBe(false);
  });

  it('never holds back a change of anything else (a new generation, a version, a rollout field)', () => {
    const [created, running] = creation();
    expect(progressOnly({ ...running!, observedGeneration: 2 }, created)).toBe(false);
    expect(progressOnly({ ...running!, modelVersion: 'v3' }, created)).toBe(false);
    const seg = running!.segments![0]!;
    expect(
      progressOnly(
        { ...running!, segments: [{ ...seg, canaryWeight: 20 }, running!.segments![1]!] },
        created,
      ),
    ).toBe(false);
    // a field dropped (a subset compare alone would not see it go)
    expect(progressOnly(running!, { ...created!, canary: 'v3@20%' })).toBe(false);
  });
});

describe('StatusPacer', () => {
  it('holds progress back for what is left of the interval since the last write, and no other change', () => {
    const [created, running, , ready] = creation();
    const pacer = new StatusPacer();
    // never written by this process (a new model, or after a restart): at once
    expect(pacer.holdMs('n/ads', running!, created, 1_000)).toBe(0);
    pacer.wrote('n/ads', 1_000);
    expect(pacer.holdMs('n/ads', running!, created, 4_000)).toBe(PROGRESS_WRITE_INTERVAL_MS - 3_000);
    expect(pacer.holdMs('n/ads', ready!, running, 4_000)).toBe(0);
    expect(pacer.holdMs('n/ads', running!, created, 1_000 + PROGRESS_WRITE_INTERVAL_MS)).toBe(0);
    pacer.forget('n/ads');
    expect(pacer.holdMs('n/ads', running!, created, 4_000)).toBe(0);
  });
});
