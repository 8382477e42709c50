import { describe, expect, it } from 'vitest';
import { RankingModelSpecSchema, type RankingModel } from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';
import type { Deployment } from '../builders.js';
import { computeStatus } from '../status.js';
import type { SegmentRolloutState } from './segment.js';
import { overlayRolloutStatus } from './status.js';

const model: RankingModel = {
  apiVersion: 'lightrank.dev/v1alpha1',
  kind: 'RankingModel',
  metadata: { name: 'ads', namespace: 'n', uid: 'u', generation: 2 },
  spec: RankingModelSpecSchema.parse({
    model: { uri: 's3://m/b', sha256: 'b'.repeat(64), version: 'v2', towerFingerprint: 'fp', tasks: ['ctr'] },
    snapshot: { uri: 's3://s/a' },
    segments: [{ name: 'main', replicas: 1 }],
  }),
};
const segment = resolveSegments(model.spec, { image: 'i' })[0]!;
const stable: Deployment = {
  metadata: { name: 'ads-main', generation: 1 },
  spec: {},
  status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1 },
};
const NOW = new Date('2026-01-01T00:00:00Z');

describe('overlayRolloutStatus', () => {
  it('counts the stable track only while a ready canary is in flight', () => {
    const base = computeStatus(model, [{ segment, deployment: stable }], NOW);
    const rollout: SegmentRolloutState = {
      name: 'main',
      phase: 'Progressing',
      stableVersion: 'v1',
      canaryVersion: 'v2',
      canaryWeight: 20,
      rolloutStep: 0,
      canaryReadyReplicas: 1,
    };
    const seg = overlayRolloutStatus(model, base, [rollout], NOW).segments![0]!;
    expect(seg).toMatchObject({ replicas: 1, readyReplicas: 1, canaryVersion: 'v2', canaryWeight: 20 });
  });
});
