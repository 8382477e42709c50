// Given a RankingModel serving v1 on two segments, when the standard segment's model version
// changes to v2 (the Prometheus test double answering "healthy"), then the operator runs a
// canary through every step (20% → 50% → 100%), analysing each, and promotes: stable runs v2,
// the canary Deployment is gone, all traffic is on stable. The shopping segment is never touched.
import { describe, expect, it } from 'vitest';
import { routerTableSchema } from '../../router/table.js';
import { SERVICES } from '../../operator/runtime/kube/types.js';
import { waitFor } from '../harness/cluster.js';
import { Timeline, condition, rolloutSpec, syncEnv, useRolloutFixture } from './rollout-helpers.js';

const fx = useRolloutFixture('rollout-promote');
const ns = fx.ns;

describe('a canary rollout that passes its analysis', () => {
  it('steps 20% → 50% → 100% and promotes v2 to stable, leaving shopping alone', async () => {
    await fx.models.create('ads', rolloutSpec(fx.prom.url));
    await fx.models.waitFor('ads', 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
    const timeline = new Timeline(fx.models, 'ads', 'standard');
    const shoppingSeen = new Set<string>();
    const watchShopping = setInterval(() => {
      void fx.models
        .segment('ads', 'shopping')
        .then((s) => shoppingSeen.add(`${s?.rolloutPhase}/${s?.canaryWeight}/${s?.stableVersion}`));
    }, 300);
    timeline.begin();

    await fx.models.setVersion('ads', 'v2');
    const steps: number[] = [];
    await fx.models.waitFor('ads', 'canary at 20%', (m) => {
      const s = m.status?.segments?.find((x) => x.name === 'standard');
      if (s?.rolloutPhase === 'Progressing' && s.canaryWeight > 0 && !steps.includes(s.canaryWeight))
        steps.push(s.canaryWeight);
      return s?.canaryWeight === 20;
    });
    const canary = await fx.models.deployment('ads-standard-canary');
    expect(syncEnv(canary, 'LIGHTRANK_MODEL_VERSION')).toBe('v2');
    expect(syncEnv(await fx.models.deployment('ads-standard'), 'LIGHTRANK_MODEL_VERSION')).toBe('v1');
    const progressing = await fx.models.get('ads');
    expect(condition(progressing, 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'RolloutInProgress',
    });
    expect(progressing.status?.phase).toBe('Progressing');

    const done = await fx.models.waitFor(
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
    expect(syncEnv(await fx.models.deployment('ads-standard'), 'LIGHTRANK_MODEL_VERSION')).toBe('v2');
    // the canary outlives the promotion by scaleDownDelaySeconds (routers still on the old table)
    const scaleDownAt = Date.parse(standard.canaryScaleDownAt!);
    const stillThere = await fx.models.deployment('ads-standard-canary');
    if (Date.now() < scaleDownAt - 200) expect(stillThere).toBeDefined();
    const removedAt = await fx.models.canaryRemoved('ads', 'standard');
    expect(removedAt).toBeGreaterThanOrEqual(scaleDownAt); // the operator runs in this process: one clock

    // the router table sends everything to stable again; with the canary gone, its Service goes,
    // after the table stopped naming it
    const standardBackends = async () => {
      const cm = await fx.models.client.get<{ metadata: { name: string }; data: Record<string, string> }>(
        { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' },
        ns.name,
        'ads-router',
      );
      const table = routerTableSchema.parse(JSON.parse(cm.data['table.json']!));
      return table.models.ads!.segments.standard!.backends.map((b) => `${b.track}=${b.weight}`);
    };
    expect(['stable=100,canary=0', 'stable=100']).toContain((await standardBackends()).join());
    await waitFor('the canary Service deleted, and the table naming stable alone', async () => {
      const svc = await fx.models.client
        .get(SERVICES, ns.name, 'ads-standard-canary')
        .then(() => 'present')
        .catch((err: unknown) => (/404|not found/i.test(String(err)) ? 'gone' : Promise.reject(err)));
      const backends = await standardBackends();
      if (svc === 'gone' && backends.join() === 'stable=100') return true;
      throw new Error(`canary Service ${svc}; table ${backends.join()}`);
    });

    // analysis asked Prometheus about the standard canary, never about shopping
    expect(fx.prom.queries.some((q) => q.includes('segment="standard",track="canary"'))).toBe(true);
    expect(fx.prom.queries.some((q) => q.includes('segment="shopping"'))).toBe(false);
    expect([...shoppingSeen]).toEqual(['Stable/0/v7']);

    const reasons = (await fx.models.events('ads')).map((e) => e.reason);
    expect(reasons).toEqual(
      expect.arrayContaining(['RolloutStarted', 'RolloutStep', 'RolloutPromoting', 'RolloutPromoted']),
    );
  });
});
