// GPU budget: given a RankingModel on cuda and GPU nodes filled by other pods, when a rollout
// starts, then the canary is not created and status says CapacityBlocked with the numbers
// (needed, free, allocatable, requested) instead of hanging in Progressing; past
// progressDeadlineSeconds the rollout fails and is rolled back (ProgressDeadlineExceeded).
// Once a GPU is free again, a retry rolls out and promotes.
import { describe, expect, it } from 'vitest';
import { readCapacity } from '../../operator/rollout/capacity.js';
import { DEPLOYMENTS, type KubeObject, CONFIGMAPS, PODS } from '../../operator/runtime/kube/types.js';
import { ROUTER_TABLE_KEY, routerName } from '../../operator/traffic/router/objects.js';
import { parseTable } from '../../router/table.js';
import { waitFor } from '../harness/cluster.js';
import { IMAGE, Recorder, changes, condition, rolloutSpec, useRolloutFixture } from './rollout-helpers.js';
import { RankingModelSpecSchema } from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';

const fx = useRolloutFixture('rollout-capacity');
const ns = fx.ns;

type Seg = { rolloutPhase: string; canaryWeight: number; stableVersion?: string; rolloutStep?: number };
const standard = (m: { status?: { segments?: { name: string }[] } }) =>
  m.status?.segments?.find((s) => s.name === 'standard') as Seg | undefined;

function filler(replicas: number, name = 'gpu-filler') {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns.name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
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

/**
 * Once the GPUs settled (no canary of an earlier test left, no pod still starting or going away),
 * fills all but `free` of those `spec`'s scoring pods could use with a filler Deployment.
 */
async function leaveFreeGpus(spec: ReturnType<typeof rolloutSpec>, free: number, fillerName: string) {
  const seg = resolveSegments(RankingModelSpecSchema.parse(spec), { image: IMAGE })[0]!;
  const tolerations = [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }];
  await waitFor('no canary left, every pod Running', async () => {
    const deployments = await fx.models.client.list(DEPLOYMENTS, ns.name);
    if (deployments.items.some((d) => d.metadata.name.endsWith('-canary'))) return false;
    const pods = await fx.models.client.list<KubeObject & { status?: { phase?: string } }>(PODS, ns.name);
    return pods.items.every((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running');
  });
  // The GPU nodes are shared with the other test files, whose GPU pods come and go meanwhile: size
  // the filler from what is free now plus what its own placed pods hold (pending ones hold
  // nothing), and again on each poll until exactly `free` are left.
  type Pod = KubeObject & { spec?: { nodeName?: string } };
  let last = -1;
  await waitFor(
    `${free} GPU(s) left`,
    async () => {
      const now = (await readCapacity(fx.models.client, seg.serving, tolerations)).free;
      const pods = await fx.models.client.list<Pod>(PODS, ns.name);
      const placed = pods.items.filter(
        (p) => p.metadata.labels?.app === fillerName && p.spec?.nodeName && !p.metadata.deletionTimestamp,
      ).length;
      const want = Math.max(0, now + placed - free);
      // done once `free` are left and the filler has no pod waiting to take one of them
      const settled = now === free && want === last;
      if (want !== last) await fx.models.client.apply(DEPLOYMENTS, filler(want, fillerName));
      last = want;
      return settled;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
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
      /standard: canary needs 1 nvidia\.com\/gpu \(1 pod\(s\) × 1\); 0 free on \d+ eligible node\(s\) \(16 allocatable, 16 requested\); step 1\/3 holds the canary at 0% until it fits/,
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

describe('a later step whose canary does not fit', () => {
  it('holds the previous weight, says so, and moves on once the GPUs are there', async () => {
    // 4 replicas: the canary needs 1 pod at 20%, 2 at 50%, 4 at 100%; one GPU free: step 1 fits
    const s = rolloutSpec(fx.prom.url, { serving: { executionProvider: 'cuda' } });
    s.segments = s.segments.map((x) => (x.name === 'standard' ? { ...x, replicas: 4 } : x));
    await fx.models.create('step2', s);
    await fx.models.waitFor('step2', 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
    await leaveFreeGpus(s, 1, 'step2-filler');
    const table = await new Recorder(
      fx.models.client,
      CONFIGMAPS,
      ns.name,
      (n) => n === routerName('step2'),
    ).start();

    await fx.models.setVersion('step2', 'v2');
    const blocked = await fx.models.waitFor(
      'step2',
      'step 2 CapacityBlocked',
      (m) => condition(m, 'Progressing')?.reason === 'CapacityBlocked',
    );
    expect(standard(blocked), JSON.stringify(blocked.status)).toMatchObject({
      canaryWeight: 20,
      rolloutStep: 1,
    });
    expect(condition(blocked, 'Progressing')!.message).toMatch(
      /standard: canary needs 1 nvidia\.com\/gpu \(1 pod\(s\) × 1\); 0 free .*; step 2\/3 holds the canary at 20% until it fits/,
    );
    // held for a while: the table never gives the 1-pod canary more than its 20%
    await new Promise((r) => setTimeout(r, 6000));
    expect(standard(await fx.models.get('step2'))).toMatchObject({ canaryWeight: 20, rolloutStep: 1 });
    expect(
      ((await fx.models.deployment('step2-standard-canary'))?.spec as { replicas: number }).replicas,
    ).toBe(1);
    const weights = table.versions.map((v) => tableWeight(v.object));
    expect(Math.max(...weights)).toBe(20);

    await fx.models.client.apply(DEPLOYMENTS, filler(0, 'step2-filler'));
    await fx.models.waitFor(
      'step2',
      'promoted',
      (m) => standard(m)?.rolloutPhase === 'Stable' && standard(m)?.stableVersion === 'v2',
      90_000,
    );
    table.stop();
    expect(changes(table.versions.map((v) => tableWeight(v.object)))).toEqual([0, 20, 50, 100, 0]);
  }, 150_000);
});

describe('a promotion on GPUs the canary filled', () => {
  it('replaces the stable pods in place behind the canary, then gives the stable its default strategy back', async () => {
    // 2 stable pods; at 100% the canary has 2 pods too, on the last 2 free GPUs: a surge pod for
    // the stable's update would never be placed
    const s = rolloutSpec(fx.prom.url, { serving: { executionProvider: 'cuda' } });
    await fx.models.create('full', s);
    await fx.models.waitFor('full', 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
    await leaveFreeGpus(s, 2, 'full-filler');
    const strategies = new Recorder(fx.models.client, DEPLOYMENTS, ns.name, (n) => n === 'full-standard');
    await strategies.start();

    await fx.models.setVersion('full', 'v2');
    await fx.models.waitFor(
      'full',
      'promoted',
      (m) => standard(m)?.rolloutPhase === 'Stable' && standard(m)?.stableVersion === 'v2',
      120_000,
    );
    // The strategy goes back on the pass after the one that promoted (the stable is built from the
    // last status, operator/rollout/rollouts.ts), so it is awaited, not read at once.
    await waitFor('the stable Deployment back on the default strategy', async () => {
      const stable = await fx.models.deployment('full-standard');
      expect(stable?.spec).toMatchObject({
        strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      });
      return true;
    });
    strategies.stop();
    // the pods were replaced under the in-place strategy: no surge
    const inPlace = strategies.versions.filter((v) => {
      const d = v.object as KubeObject & {
        spec?: { strategy?: { rollingUpdate?: { maxSurge?: number | string } } };
        status?: { updatedReplicas?: number };
      };
      return d.spec?.strategy?.rollingUpdate?.maxSurge === 0 && (d.status?.updatedReplicas ?? 0) < 2;
    });
    expect(inPlace.length).toBeGreaterThan(0);
    await fx.models.client.apply(DEPLOYMENTS, filler(0, 'full-filler'));
  }, 180_000);
});

function tableWeight(cm: KubeObject): number {
  const content = (cm as KubeObject & { data?: Record<string, string> }).data?.[ROUTER_TABLE_KEY];
  const route = content ? parseTable(content).models.get('step2')?.segments.get('standard') : undefined;
  return route?.backends.find((b) => b.track === 'canary')?.weight ?? 0;
}
