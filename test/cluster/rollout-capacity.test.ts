// GPU budget: given a RankingModel on cuda and GPU nodes filled by other pods, when a rollout
// starts, then the canary is not created and status says CapacityBlocked with the numbers
// (needed, free, allocatable, requested) instead of hanging in Progressing; past
// progressDeadlineSeconds the rollout fails and is rolled back (ProgressDeadlineExceeded).
// Once a GPU is free again, a retry rolls out and promotes.
import { describe, expect, it } from 'vitest';
import { readCapacity } from '../../operator/rollout/capacity.js';
import { DEPLOYMENTS } from '../../operator/kube/types.js';
import { waitFor } from '../harness/cluster.js';
import { IMAGE, condition, rolloutSpec, useRolloutFixture } from './rollout-helpers.js';
import { RankingModelSpecSchema } from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';

const fx = useRolloutFixture('rollout-capacity');
const ns = fx.ns;

type Seg = { rolloutPhase: string; canaryWeight: number; stableVersion?: string };
const standard = (m: { status?: { segments?: { name: string }[] } }) =>
  m.status?.segments?.find((s) => s.name === 'standard') as Seg | undefined;

function filler(replicas: number) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'gpu-filler', namespace: ns.name },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'gpu-filler' } },
      template: {
        metadata: { labels: { app: 'gpu-filler' } },
        spec: {
          containers: [
            {
              name: 'work',
              image: 'registry.test/other-job:1',
              resources: { limits: { 'nvidia.com/gpu': '1' } },
            },
          ],
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
        },
      },
    },
  };
}

describe('a canary that does not fit on the GPUs', () => {
  const spec = () => {
    const s = rolloutSpec(fx.prom.url, { serving: { executionProvider: 'cuda' } });
    s.rollout!.progressDeadlineSeconds = 30;
    return s;
  };

  it('reports CapacityBlocked with numbers, then fails at the progress deadline', async () => {
    await fx.models.create('gpu', spec());
    await fx.models.waitFor('gpu', 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
    // take every free GPU (and queue two more pods, so a GPU freed elsewhere is taken at once)
    const seg = resolveSegments(RankingModelSpecSchema.parse(spec()), { image: IMAGE })[0]!;
    const tolerations = [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }];
    const free = (await readCapacity(fx.models.client, seg.serving, tolerations)).free;
    await fx.models.client.apply(DEPLOYMENTS, filler(free + 2));
    await waitFor(
      'every GPU taken',
      async () => (await readCapacity(fx.models.client, seg.serving, tolerations)).free === 0,
    );

    const started = Date.now();
    await fx.models.setVersion('gpu', 'v2');
    const blocked = await fx.models.waitFor(
      'gpu',
      'CapacityBlocked',
      (m) => condition(m, 'Progressing')?.reason === 'CapacityBlocked',
    );
    const c = condition(blocked, 'Progressing')!;
    expect(c.status).toBe('False');
    expect(c.message).toMatch(
      /standard: canary needs 1 nvidia\.com\/gpu \(1 pod\(s\) × 1\); 0 free on \d+ eligible node\(s\) \(16 allocatable, 16 requested\)/,
    );
    expect(await fx.models.deployment('gpu-standard-canary')).toBeUndefined();
    expect(
      (await fx.models.events('gpu')).some((e) => e.reason === 'CapacityBlocked' && e.type === 'Warning'),
    ).toBe(true);

    const failed = await fx.models.waitFor(
      'gpu',
      'rolled back at the deadline',
      (m) => standard(m)?.rolloutPhase === 'RolledBack',
      60_000,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(29_000);
    expect(condition(failed, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'ProgressDeadlineExceeded',
    });
    expect(condition(failed, 'Degraded')!.message).toMatch(/0 free .* for over 30s/);
    expect(standard(failed)).toMatchObject({ canaryWeight: 0, stableVersion: 'v1' });
  });

  it('rolls out once a GPU is free again (retry)', async () => {
    await fx.models.client.apply(DEPLOYMENTS, filler(0));
    await fx.models.annotate('gpu', { 'lightrank.dev/retry': 'true' });
    await fx.models.waitFor(
      'gpu',
      'promoted',
      (m) => standard(m)?.rolloutPhase === 'Stable' && standard(m)?.stableVersion === 'v2',
      60_000,
    );
  });
});
