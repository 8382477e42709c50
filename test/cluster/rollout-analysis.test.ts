// Given a RankingModel on v1 and the Prometheus test double, when v2 rolls out:
//  - a canary whose error rate breaks the threshold is rolled back: weight 0, canary removed,
//    Degraded (AnalysisFailed) with the measured values, a Warning Event, and it stays rolled back;
//  - while Prometheus has no data (inconclusive) the step is held — not failed — and the rollout
//    moves on as soon as the data passes; Prometheus answering errors holds it too, and says so
//    (Degraded/AnalysisUnavailable);
//  - a canary whose score distribution shifts (PSI over the threshold) is rolled back too.
import { describe, expect, it } from 'vitest';
import { healthy, scoresAround } from '../prometheus/fake-prometheus.js';
import { condition, rolloutSpec, syncEnv, useRolloutFixture } from './rollout-helpers.js';

const fx = useRolloutFixture('rollout-analysis');

const standard = (m: { status?: { segments?: { name: string }[] } }) =>
  m.status?.segments?.find((s) => s.name === 'standard') as
    | {
        rolloutPhase: string;
        canaryWeight: number;
        rolloutStep?: number;
        stableVersion?: string;
        canaryVersion?: string;
        lastAnalysis?: { result: string; message: string };
      }
    | undefined;

async function readyOnV1(name: string) {
  fx.prom.script = { canary: healthy(), stable: healthy() };
  await fx.models.create(name, rolloutSpec(fx.prom.url));
  await fx.models.waitFor(name, 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
}

describe('analysis verdicts', () => {
  it('rolls back a canary whose error rate breaks the threshold, and stays rolled back', async () => {
    await readyOnV1('errors');
    fx.prom.script = { canary: { ...healthy(), errorRate: 0.2 }, stable: healthy() };
    await fx.models.setVersion('errors', 'v2');
    const m = await fx.models.waitFor(
      'errors',
      'rolled back',
      (x) => standard(x)?.rolloutPhase === 'RolledBack',
    );
    expect(standard(m)).toMatchObject({ canaryWeight: 0, stableVersion: 'v1', canaryVersion: 'v2' });
    expect(standard(m)!.lastAnalysis).toMatchObject({ result: 'Failed' });
    expect(standard(m)!.lastAnalysis!.message).toMatch(/error rate 0\.2 > 0\.01/);
    expect(condition(m, 'Degraded')).toMatchObject({ status: 'True', reason: 'AnalysisFailed' });
    expect(m.status?.phase).toBe('Degraded');
    expect(m.status?.rolloutPhase).toBe('RolledBack');
    await fx.models.canaryRemoved('errors', 'standard');
    expect(syncEnv(await fx.models.deployment('errors-standard'), 'LIGHTRANK_MODEL_VERSION')).toBe('v1');
    const warning = (await fx.models.events('errors')).find((e) => e.reason === 'RolledBack');
    expect(warning).toMatchObject({ type: 'Warning' });
    expect(warning!.message).toMatch(/rolled back v2 to v1: AnalysisFailed/);

    // the same revision is not retried: a few seconds later it is still rolled back, no canary
    fx.prom.script = { canary: healthy(), stable: healthy() };
    await new Promise((r) => setTimeout(r, 3000));
    const later = await fx.models.get('errors');
    expect(standard(later)?.rolloutPhase).toBe('RolledBack');
    expect(await fx.models.deployment('errors-standard-canary')).toBeUndefined();

    // retry (annotation) starts it again, and with healthy data it promotes
    await fx.models.annotate('errors', { 'lightrank.dev/retry': 'true' });
    await fx.models.waitFor(
      'errors',
      'promoted after retry',
      (x) => standard(x)?.stableVersion === 'v2' && standard(x)?.rolloutPhase === 'Stable',
      60_000,
    );
    expect((await fx.models.get('errors')).metadata.annotations?.['lightrank.dev/retry']).toBeUndefined();
    expect(condition(await fx.models.get('errors'), 'Degraded')?.status).toBe('False');
  });

  it('holds the step while the analysis is inconclusive, then moves on when it passes', async () => {
    await readyOnV1('nodata');
    fx.prom.script = 'empty';
    await fx.models.setVersion('nodata', 'v2');
    await fx.models.waitFor(
      'nodata',
      'an inconclusive verdict',
      (x) => standard(x)?.lastAnalysis?.result === 'Inconclusive',
    );
    await new Promise((r) => setTimeout(r, 6000)); // longer than the step's 2 s pause and one 5 s interval
    const held = await fx.models.get('nodata');
    expect(standard(held)).toMatchObject({ rolloutPhase: 'Progressing', rolloutStep: 0, canaryWeight: 20 });
    expect(standard(held)!.lastAnalysis!.message).toMatch(/canary served 0 requests/);
    expect(condition(held, 'Degraded')?.status).toBe('False');
    expect(condition(held, 'Progressing')?.message).toMatch(/waiting for a passing analysis/);

    // Prometheus down is inconclusive too, not a failure
    fx.prom.script = 'error';
    await fx.models.waitFor(
      'nodata',
      'Prometheus error recorded',
      (x) => /503/.test(standard(x)?.lastAnalysis?.message ?? ''),
      20_000,
    );
    const down = await fx.models.waitFor(
      'nodata',
      'Degraded AnalysisUnavailable',
      (x) => condition(x, 'Degraded')?.reason === 'AnalysisUnavailable',
    );
    expect(standard(down)?.rolloutPhase).toBe('Progressing');
    expect(condition(down, 'Degraded')!.message).toMatch(
      /^standard: analysis cannot query Prometheus \(Prometheus answered 503/,
    );
    expect(down.status?.phase).toBe('Degraded');

    fx.prom.script = { canary: healthy(), stable: healthy() };
    await fx.models.waitFor(
      'nodata',
      'promoted',
      (x) => standard(x)?.stableVersion === 'v2' && standard(x)?.rolloutPhase === 'Stable',
      60_000,
    );
  });

  it('rolls back a canary whose score distribution diverges (PSI)', async () => {
    await readyOnV1('drift');
    fx.prom.script = { canary: { ...healthy(), scoreBins: scoresAround(15) }, stable: healthy() };
    await fx.models.setVersion('drift', 'v2');
    const m = await fx.models.waitFor(
      'drift',
      'rolled back',
      (x) => standard(x)?.rolloutPhase === 'RolledBack',
    );
    expect(standard(m)!.lastAnalysis!.message).toMatch(/ctr PSI [\d.]+ > 0\.2/);
    expect(condition(m, 'Degraded')).toMatchObject({ status: 'True', reason: 'AnalysisFailed' });
  });
});
