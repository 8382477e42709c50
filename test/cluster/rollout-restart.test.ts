// The operator killed (SIGKILL, a real process) at each step of a rollout and started again:
// the new process resumes from the status — same step, same step start, no second
// RolloutStarted — and the rollout completes. State lives in status and on the Deployments,
// never only in memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnOperator, type OperatorProcess } from '../../operator/testing.js';
import { clusterInfo, useTestNamespace } from '../harness/cluster.js';
import { healthy, startFakePrometheus, type FakePrometheus } from '../prometheus/fake-prometheus.js';
import { IMAGE, Models, condition, rolloutSpec, syncEnv } from './rollout-helpers.js';

const ns = useTestNamespace('rollout-restart');
let prom: FakePrometheus;
let models: Models;
let current: OperatorProcess | undefined;

function start(i: number): OperatorProcess {
  current = spawnOperator(`restart-${i}`, {
    KUBECONFIG: clusterInfo().kubeconfigPath,
    LIGHTRANK_WATCH_NAMESPACE: ns.name,
    LIGHTRANK_LEADER_ELECTION: 'false',
    LIGHTRANK_SERVER_IMAGE: IMAGE,
    LIGHTRANK_SIDECAR_IMAGE: IMAGE,
  });
  return current;
}

async function kill(p: OperatorProcess): Promise<void> {
  p.child.kill('SIGKILL');
  expect(await p.exited).toBe('SIGKILL');
}

beforeAll(async () => {
  prom = await startFakePrometheus({ canary: healthy(), stable: healthy() });
  models = new Models(ns.name);
});
afterAll(async () => {
  if (current && current.child.exitCode === null) await kill(current);
  await prom?.close();
});

type Seg = {
  rolloutPhase: string;
  canaryWeight: number;
  rolloutStep?: number;
  stepStartTime?: string;
  stableVersion?: string;
};
const standard = (m: { status?: { segments?: { name: string }[] } }) =>
  m.status?.segments?.find((s) => s.name === 'standard') as Seg | undefined;

describe('an operator killed mid-rollout', () => {
  it('resumes at every step and completes the rollout', async () => {
    let op = start(0);
    const spec = rolloutSpec(prom.url);
    spec.rollout!.steps = [
      { weight: 20, pauseSeconds: 4 },
      { weight: 50, pauseSeconds: 4 },
      { weight: 100, pauseSeconds: 4 },
    ];
    await models.create('ads', spec);
    await models.waitFor('ads', 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
    await models.setVersion('ads', 'v2');

    const weights = [20, 50, 100];
    for (const [i, weight] of weights.entries()) {
      const at = await models.waitFor(
        'ads',
        `step ${i} at ${weight}%`,
        (m) => standard(m)?.canaryWeight === weight,
      );
      const before = standard(at)!;
      await kill(op);
      op = start(i + 1);
      // the new process picks up where the last left: same step and start time, or the next step
      const after = await models.waitFor('ads', 'the new process at work', (m) => {
        const s = standard(m)!;
        return (
          s.rolloutPhase !== 'Progressing' ||
          s.rolloutStep !== before.rolloutStep ||
          s.canaryWeight === weight
        );
      });
      const s = standard(after)!;
      if (s.rolloutPhase === 'Progressing' && s.rolloutStep === before.rolloutStep)
        expect(s.stepStartTime).toBe(before.stepStartTime);
      else expect(s.rolloutStep ?? weights.length).toBeGreaterThan(before.rolloutStep!);
    }
    const done = await models.waitFor(
      'ads',
      'promoted',
      (m) => standard(m)?.rolloutPhase === 'Stable' && standard(m)?.stableVersion === 'v2',
      60_000,
    );
    expect(standard(done)?.canaryWeight).toBe(0);
    expect(syncEnv(await models.deployment('ads-standard'), 'LIGHTRANK_MODEL_VERSION')).toBe('v2');
    await models.canaryRemoved('ads', 'standard');
    const reasons = (await models.events('ads')).map((e) => e.reason);
    expect(reasons.filter((r) => r === 'RolloutStarted')).toHaveLength(1);
    expect(reasons.filter((r) => r === 'RolloutStep')).toHaveLength(2);
  });
});
