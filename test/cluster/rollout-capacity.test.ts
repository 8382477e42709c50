// GPU budget: given a RankingModel on cuda and GPU nodes filled by other pods, when a rollout
// starts, then the canary is not created and status says CapacityBlocked with the numbers
// (needed, free, allocatable, requested) instead of hanging in Progressing; past
// progressDeadlineSeconds the rollout fails and is rolled back (ProgressDeadlineExceeded).
// Once a GPU is free again, a retry rolls out and promotes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCapacity } from '../../operator/rollout/capacity.js';
import { startInProcessOperator, type InProcessOperator } from '../../operator/testing.js';
import { DEPLOYMENTS } from '../../operator/kube/types.js';
import { clusterInfo, useTestNamespace, waitFor } from '../harness/cluster.js';
import { healthy, startFakePrometheus, type FakePrometheus } from '../prometheus/fake-prometheus.js';
import { IMAGE, Models, condition, rolloutSpec } from './rollout-helpers.js';
import { RankingModelSpecSchema } from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';

const ns = useTestNamespace('rollout-capacity');
let op: InProcessOperator;
let prom: FakePrometheus;
let models: Models;

beforeAll(async () => {
  prom = await startFakePrometheus({ canary: healthy(), stable: healthy() });
  models = new Models(ns.name);
  op = await startInProcessOperator(clusterInfo().kubeconfigPath, ns.name, {
    serverImage: IMAGE,
    sidecarImage: IMAGE,
  });
});
afterAll(async () => {
  await op?.stop();
  await prom?.close();
});

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
    const s = rolloutSpec(prom.url, { serving: { executionProvider: 'cuda' } });
    s.rollout!.progressDeadlineSeconds = 30;
    return s;
  };

  it('reports CapacityBlocked with numbers, then fails at the progress deadline', async () => {
    await models.create('gpu', spec());
    await models.waitFor('gpu', 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
    // take every free GPU (and queue two more pods, so a GPU freed elsewhere is taken at once)
    const seg = resolveSegments(RankingModelSpecSchema.parse(spec()), { image: IMAGE })[0]!;
    const tolerations = [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }];
    const free = (await readCapacity(models.client, seg.serving, tolerations)).free;
    await models.client.apply(DEPLOYMENTS, filler(free + 2));
    await waitFor(
      'every GPU taken',
      async () => (await readCapacity(models.client, seg.serving, tolerations)).free === 0,
    );

    const started = Date.now();
    await models.setVersion('gpu', 'v2');
    const blocked = await models.waitFor(
      'gpu',
      'CapacityBlocked',
      (m) => condition(m, 'Progressing')?.reason === 'CapacityBlocked',
    );
    const c = condition(blocked, 'Progressing')!;
    expect(c.status).toBe('False');
    expect(c.message).toMatch(
      /standard: canary needs 1 nvidia\.com\/gpu \(1 pod\(s\) × 1\); 0 free on \d+ eligible node\(s\) \(16 allocatable, 16 requested\)/,
    );
    expect(await models.deployment('gpu-standard-canary')).toBeUndefined();
    expect(
      (await models.events('gpu')).some((e) => e.reason === 'CapacityBlocked' && e.type === 'Warning'),
    ).toBe(true);

    const failed = await models.waitFor(
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
    await models.client.apply(DEPLOYMENTS, filler(0));
    await models.annotate('gpu', { 'lightrank.dev/retry': 'true' });
    await models.waitFor(
      'gpu',
      'promoted',
      (m) => standard(m)?.rolloutPhase === 'Stable' && standard(m)?.stableVersion === 'v2',
      60_000,
    );
  });
});
