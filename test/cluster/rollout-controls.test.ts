// Manual controls, the Argo Rollouts verbs as annotations (docs/rollouts.md): pause holds the
// step and resume continues it; promote=full skips the remaining steps; abort rolls back at
// once. One-shot annotations are removed once acted on.
import { describe, expect, it } from 'vitest';
import { condition, rolloutSpec, syncEnv, useRolloutFixture } from './rollout-helpers.js';

const fx = useRolloutFixture('rollout-controls');

type Seg = { rolloutPhase: string; canaryWeight: number; rolloutStep?: number; stableVersion?: string };
const standard = (m: { status?: { segments?: { name: string }[] } }) =>
  m.status?.segments?.find((s) => s.name === 'standard') as Seg | undefined;

async function rollingOut(name: string, pause = false) {
  await fx.models.create(name, rolloutSpec(fx.prom.url));
  await fx.models.waitFor(name, 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
  if (pause) await fx.models.annotate(name, { 'lightrank.dev/paused': 'true' });
  await fx.models.setVersion(name, 'v2');
  return fx.models.waitFor(name, 'canary at 20%', (m) => standard(m)?.canaryWeight === 20);
}

describe('manual controls', () => {
  it('pause holds the step; removing the annotation resumes it', async () => {
    await rollingOut('paused', true);
    await new Promise((r) => setTimeout(r, 4000)); // twice the step's pause
    const held = await fx.models.get('paused');
    expect(standard(held)).toMatchObject({ rolloutPhase: 'Progressing', rolloutStep: 0, canaryWeight: 20 });
    expect(condition(held, 'Progressing')).toMatchObject({ status: 'True', reason: 'RolloutPaused' });
    await fx.models.annotate('paused', { 'lightrank.dev/paused': null });
    await fx.models.waitFor(
      'paused',
      'promoted',
      (m) => standard(m)?.rolloutPhase === 'Stable' && standard(m)?.stableVersion === 'v2',
    );
  });

  it('promote=full skips the remaining steps', async () => {
    await rollingOut('promote', true);
    await fx.models.annotate('promote', { 'lightrank.dev/promote': 'full' });
    const m = await fx.models.waitFor(
      'promote',
      'promoted',
      (x) => standard(x)?.rolloutPhase === 'Stable' && standard(x)?.stableVersion === 'v2',
    );
    expect(standard(m)?.canaryWeight).toBe(0);
    expect(m.metadata.annotations?.['lightrank.dev/promote']).toBeUndefined();
    expect(syncEnv(await fx.models.deployment('promote-standard'), 'LIGHTRANK_MODEL_VERSION')).toBe('v2');
    await fx.models.canaryRemoved('promote', 'standard');
    // it never went through 50%: the events show no step advance
    expect((await fx.models.events('promote')).filter((e) => e.reason === 'RolloutStep')).toHaveLength(0);
  });

  it('abort rolls back at once', async () => {
    await rollingOut('abort', true);
    await fx.models.annotate('abort', { 'lightrank.dev/abort': 'true' });
    const m = await fx.models.waitFor(
      'abort',
      'rolled back',
      (x) => standard(x)?.rolloutPhase === 'RolledBack',
    );
    expect(standard(m)).toMatchObject({ canaryWeight: 0, stableVersion: 'v1' });
    expect(condition(m, 'Degraded')).toMatchObject({ status: 'True', reason: 'RolledBack' });
    expect(condition(m, 'Degraded')!.message).toMatch(/aborted/);
    await fx.models.waitFor(
      'abort',
      'annotation cleared',
      (x) => x.metadata.annotations?.['lightrank.dev/abort'] === undefined,
    );
    await fx.models.canaryRemoved('abort', 'standard');
  });
});
