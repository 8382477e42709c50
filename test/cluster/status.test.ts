// The status a person reads, on the real API server: `kubectl get rkm` tells where a rollout is
// (canary version @ weight, step; -o wide: rollout phase, analysis verdict, reason), pods the
// scheduler cannot place are named in its own words, an analysis that cannot reach Prometheus
// (a real closed port) says so, and each of these shows in the phase.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { healthy } from '../prometheus/fake-prometheus.js';
import { condition, kubectl, rolloutSpec, table, useRolloutFixture, type Model } from './rollout-helpers.js';

const fx = useRolloutFixture('status');
const ns = fx.ns;
const standard = (m: Model) => m.status?.segments?.find((s) => s.name === 'standard');

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('kubectl get rkm', () => {
  it('shows the canary version @ weight and the step; -o wide adds rollout, analysis and reason', async () => {
    fx.prom.script = { canary: healthy(), stable: healthy() };
    const spec = rolloutSpec(fx.prom.url);
    spec.rollout!.steps = [
      { weight: 20, pauseSeconds: 60 },
      { weight: 100, pauseSeconds: 0 },
    ];
    await fx.models.create('cols', spec);
    await fx.models.waitFor('cols', 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
    const [stable] = table(await kubectl('get', 'rkm', 'cols', '-n', ns.name));
    expect(stable).toMatchObject({ NAME: 'cols', READY: '2/2', STABLE: 'v1,v7', PHASE: 'Ready' });
    expect(Object.keys(stable!)).toEqual(['NAME', 'READY', 'STABLE', 'CANARY', 'STEP', 'PHASE', 'AGE']);
    expect(stable!.CANARY).toMatch(/^(<none>)?$/);

    await fx.models.setVersion('cols', 'v2');
    await fx.models.waitFor(
      'cols',
      'at 20% with a verdict',
      (m) => standard(m)?.canaryWeight === 20 && standard(m)?.lastAnalysis?.result === 'Passed',
    );
    const [rolling] = table(await kubectl('get', 'rkm', 'cols', '-n', ns.name, '-o', 'wide'));
    expect(rolling).toMatchObject({
      NAME: 'cols',
      STABLE: 'v1,v7',
      CANARY: 'standard=v2@20%',
      STEP: 'standard=1/2',
      PHASE: 'Progressing',
      ROLLOUT: 'Progressing',
      ANALYSIS: 'standard=Passed',
      REASON: 'RolloutInProgress',
    });
  });
});

describe('what a rollout or a spec change waits on', () => {
  it('names pods the scheduler cannot place, in its words, after a plain spec change', async () => {
    const spec = rolloutSpec(fx.prom.url, { serving: { executionProvider: 'cuda' } });
    await fx.models.create('nogpu', spec);
    await fx.models.waitFor('nogpu', 'Ready', (m) => condition(m, 'Ready')?.status === 'True');
    // more replicas than the cluster has GPUs (2 nodes × 8)
    await fx.models.patch('nogpu', {
      spec: { segments: spec.segments.map((s) => (s.name === 'standard' ? { ...s, replicas: 40 } : s)) },
    });
    const m = await fx.models.waitFor(
      'nogpu',
      'Degraded PodsUnschedulable',
      (x) => condition(x, 'Degraded')?.reason === 'PodsUnschedulable',
    );
    expect(condition(m, 'Degraded')!.status).toBe('True');
    expect(condition(m, 'Degraded')!.message).toMatch(
      /^standard: \d+ stable pod\(s\) cannot be scheduled: 0\/\d+ nodes are available: .*Insufficient nvidia\.com\/gpu/,
    );
    expect(m.status?.phase).toBe('Degraded');
    const [row] = table(await kubectl('get', 'rkm', 'nogpu', '-n', ns.name, '-o', 'wide'));
    expect(row).toMatchObject({ PHASE: 'Degraded', REASON: 'PodsUnschedulable' });
    // back within the GPUs: no longer degraded
    await fx.models.patch('nogpu', { spec: { segments: spec.segments } });
    await fx.models.waitFor(
      'nogpu',
      'Ready again',
      (x) => condition(x, 'Ready')?.status === 'True' && condition(x, 'Degraded')?.status === 'False',
    );
  });

  it('says the analysis cannot reach Prometheus while the rollout holds', async () => {
    const port = await closedPort();
    const spec = rolloutSpec(`http://127.0.0.1:${port}`);
    await fx.models.create('blind', spec);
    await fx.models.waitFor('blind', 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
    await fx.models.setVersion('blind', 'v2');
    const m = await fx.models.waitFor(
      'blind',
      'Degraded AnalysisUnavailable',
      (x) => condition(x, 'Degraded')?.reason === 'AnalysisUnavailable',
    );
    expect(condition(m, 'Degraded')).toMatchObject({ status: 'True' });
    expect(condition(m, 'Degraded')!.message).toMatch(
      new RegExp(
        `^standard: analysis cannot query Prometheus \\(Prometheus at http://127\\.0\\.0\\.1:${port} unreachable: .*\\); the rollout holds at 20%$`,
      ),
    );
    expect(m.status?.phase).toBe('Degraded');
    expect(standard(m)).toMatchObject({ rolloutPhase: 'Progressing', canaryWeight: 20 });
    expect(condition(m, 'Progressing')!.message).toMatch(/waiting for a passing analysis/);
    const [row] = table(await kubectl('get', 'rkm', 'blind', '-n', ns.name, '-o', 'wide'));
    expect(row).toMatchObject({
      CANARY: 'standard=v2@20%',
      PHASE: 'Degraded',
      ANALYSIS: 'standard=Inconclusive',
      REASON: 'AnalysisUnavailable',
    });
    // Prometheus back: the rollout goes on and the condition clears
    await fx.models.patch('blind', {
      spec: { rollout: { analysis: { prometheusAddress: fx.prom.url } } },
    });
    await fx.models.waitFor(
      'blind',
      'promoted, not degraded',
      (x) => standard(x)?.stableVersion === 'v2' && condition(x, 'Degraded')?.status === 'False',
      60_000,
    );
  });
});
