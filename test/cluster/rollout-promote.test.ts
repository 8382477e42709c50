// Given a RankingModel serving v1 on two segments, when the standard segment's model version
// changes to v2 (the Prometheus test double answering "healthy"), then the operator runs a
// canary through every step (20% → 50% → 100%), analysing each, and promotes: stable runs v2,
// the canary Deployment is gone, all traffic is on stable. The shopping segment is never touched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routerTableSchema } from '../../router/table.js';
import { startInProcessOperator, type InProcessOperator } from '../../operator/testing.js';
import { clusterInfo, useTestNamespace } from '../harness/cluster.js';
import { healthy, startFakePrometheus, type FakePrometheus } from '../prometheus/fake-prometheus.js';
import { IMAGE, Models, Timeline, condition, rolloutSpec, syncEnv } from './rollout-helpers.js';

const ns = useTestNamespace('rollout-promote');
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

describe('a canary rollout that passes its analysis', () => {
  it('steps 20% → 50% → 100% and promotes v2 to stable, leaving shopping alone', async () => {
    await models.create('ads', rolloutSpec(prom.url));
    await models.waitFor('ads', 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
    const timeline = new Timeline(models, 'ads', 'standard');
    const shoppingSeen = new Set<string>();
    const watchShopping = setInterval(() => {
      void models
        .segment('ads', 'shopping')
        .then((s) => shoppingSeen.add(`${s?.rolloutPhase}/${s?.canaryWeight}/${s?.stableVersion}`));
    }, 300);
    timeline.begin();

    await models.setVersion('ads', 'v2');
    const steps: number[] = [];
    await models.waitFor('ads', 'canary at 20%', (m) => {
      const s = m.status?.segments?.find((x) => x.name === 'standard');
      if (s?.rolloutPhase === 'Progressing' && s.canaryWeight > 0 && !steps.includes(s.canaryWeight))
        steps.push(s.canaryWeight);
      return s?.canaryWeight === 20;
    });
    const canary = await models.deployment('ads-standard-canary');
    expect(syncEnv(canary, 'LIGHTRANK_MODEL_VERSION')).toBe('v2');
    expect(syncEnv(await models.deployment('ads-standard'), 'LIGHTRANK_MODEL_VERSION')).toBe('v1');
    const progressing = await models.get('ads');
    expect(condition(progressing, 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'RolloutInProgress',
    });
    expect(progressing.status?.phase).toBe('Progressing');

    const done = await models.waitFor(
      'ads',
      'promoted',
      (m) => {
        const s = m.status?.segments?.find((x) => x.name === 'standard');
        if (s?.rolloutPhase === 'Progressing' && s.canaryWeight > 0 && !steps.includes(s.canaryWeight))
          steps.push(s.canaryWeight);
        return s?.rolloutPhase === 'Stable' && s.stableVersion === 'v2';
      },
      90_000,
    );
    clearInterval(watchShopping);
    const log = timeline.stop();
    console.log(`rollout timeline (standard segment):\n${log}`);

    expect(steps).toEqual([20, 50, 100]);
    const standard = done.status!.segments!.find((s) => s.name === 'standard')!;
    expect(standard).toMatchObject({ stableVersion: 'v2', canaryWeight: 0, rolloutPhase: 'Stable' });
    expect(standard.lastAnalysis?.result).toBe('Passed');
    expect(standard.lastAnalysis?.message).toMatch(/error rate .* p99 .* PSI/);
    expect(done.status?.modelVersion).toBe('v2,v7');
    expect(syncEnv(await models.deployment('ads-standard'), 'LIGHTRANK_MODEL_VERSION')).toBe('v2');
    // the canary outlives the promotion by scaleDownDelaySeconds (routers still on the old table)
    const scaleDownAt = Date.parse(standard.canaryScaleDownAt!);
    const stillThere = await models.deployment('ads-standard-canary');
    if (Date.now() < scaleDownAt - 200) expect(stillThere).toBeDefined();
    const removedAt = await models.canaryRemoved('ads', 'standard');
    expect(removedAt).toBeGreaterThanOrEqual(scaleDownAt); // the operator runs in this process: one clock

    // the router table sends everything to stable again
    const cm = await models.client.get<{ metadata: { name: string }; data: Record<string, string> }>(
      { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' },
      ns.name,
      'ads-router',
    );
    const table = routerTableSchema.parse(JSON.parse(cm.data['table.json']!));
    expect(table.models.ads!.segments.standard!.backends.find((b) => b.track === 'canary')!.weight).toBe(0);

    // analysis asked Prometheus about the standard canary, never about shopping
    expect(prom.queries.some((q) => q.includes('segment="standard",track="canary"'))).toBe(true);
    expect(prom.queries.some((q) => q.includes('segment="shopping"'))).toBe(false);
    expect([...shoppingSeen]).toEqual(['Stable/0/v7']);

    const reasons = (await models.events('ads')).map((e) => e.reason);
    expect(reasons).toEqual(
      expect.arrayContaining(['RolloutStarted', 'RolloutStep', 'RolloutPromoting', 'RolloutPromoted']),
    );
  });
});
