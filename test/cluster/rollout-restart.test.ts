// The operator killed (SIGKILL, a real process) at each point of a rollout and started again
// (canary starting, each step begun and each step's weight served, promoted): the new process
// resumes from the status and the routing objects — no step skipped or repeated, no step's clock
// restarted, no second RolloutStarted — and the rollout completes. Every version of the router
// table and of the model is recorded from a watch: no weight ever moves backwards. State lives in
// status, on the Deployments and in the routing objects, never only in memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnOperator, type OperatorProcess } from '../../operator/testing.js';
import { clusterInfo, useTestNamespace, waitFor } from '../harness/cluster.js';
import type { KubeObject } from '../../operator/runtime/kube/types.js';
import { RANKING_MODELS } from '../../operator/reconciler.js';
import { ROUTER_TABLE_KEY, routerName } from '../../operator/traffic/router/objects.js';
import { parseTable } from '../../router/table.js';
import { healthy, startFakePrometheus, type FakePrometheus } from '../prometheus/fake-prometheus.js';
import {
  IMAGE,
  Models,
  Recorder,
  changes,
  condition,
  rolloutSpec,
  syncEnv,
  type Model,
} from './rollout-helpers.js';
import { CONFIGMAPS } from '../../operator/runtime/kube/types.js';

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
const standard = (m: { status?: { segments?: { name: string }[] } }): Seg | undefined =>
  m.status?.segments?.find((s) => s.name === 'standard') as Seg | undefined;

/** The points of a rollout where the operator is killed, in order, as seen in the model's versions. */
const KILL_POINTS: [string, (s: Seg) => boolean][] = [
  ['canary starting, no weight yet', (s) => s.rolloutPhase === 'Progressing' && s.canaryWeight === 0],
  ['step 1 at 20%', (s) => s.rolloutStep === 0 && s.canaryWeight === 20],
  ['step 2 begun, still at 20%', (s) => s.rolloutStep === 1],
  ['step 2 at 50%', (s) => s.rolloutStep === 1 && s.canaryWeight === 50],
  ['step 3 begun', (s) => s.rolloutStep === 2],
  ['step 3 at 100%', (s) => s.rolloutStep === 2 && s.canaryWeight === 100],
  ['promoted, canary not yet removed', (s) => s.rolloutPhase === 'Stable' && s.stableVersion === 'v2'],
];

describe('an operator killed mid-rollout', () => {
  it('resumes at every step and completes the rollout, no weight ever moving backwards', async () => {
    let op = start(0);
    const spec = rolloutSpec(prom.url);
    spec.segments = spec.segments.map((x) => (x.name === 'standard' ? { ...x, replicas: 4 } : x));
    spec.rollout!.steps = [
      { weight: 20, pauseSeconds: 4 },
      { weight: 50, pauseSeconds: 4 },
      { weight: 100, pauseSeconds: 4 },
    ];
    await models.create('ads', spec);
    await models.waitFor('ads', 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
    const table = await new Recorder(
      models.client,
      CONFIGMAPS,
      ns.name,
      (n) => n === routerName('ads'),
    ).start();
    const history = await new Recorder<Model>(
      models.client,
      RANKING_MODELS,
      ns.name,
      (n) => n === 'ads',
    ).start();
    await models.setVersion('ads', 'v2');

    let from = 0;
    for (const [i, [what, at]] of KILL_POINTS.entries()) {
      // the first version at this point since the last kill (it may have passed already)
      from = await waitFor(`${what} (kill ${i + 1})`, async () => {
        const found = history.versions.findIndex((v, j) => {
          const s = j >= from ? standard(v.object) : undefined;
          return s !== undefined && at(s);
        });
        return found >= 0 ? found + 1 : false;
      });
      await kill(op);
      op = start(i + 1);
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
    const tableWeights = table.stop().map((v) => tableWeight(v.object));
    const statuses = history.stop().map((v) => standard(v.object));
    // nothing skipped, nothing repeated, never backwards: in the table and in status
    expect(changes(tableWeights)).toEqual([0, 20, 50, 100, 0]);
    expect(changes(statuses.map((s) => s?.canaryWeight ?? 0))).toEqual([0, 20, 50, 100, 0]);
    expect(changes(statuses.map((s) => s?.rolloutStep).filter((x) => x !== undefined))).toEqual([0, 1, 2]);
    // a step's start is never rewritten once its weight is served (the pause is not restarted)
    const starts = new Map<number, Set<string>>();
    for (const s of statuses)
      if (
        s?.rolloutPhase === 'Progressing' &&
        s.rolloutStep !== undefined &&
        s.stepStartTime &&
        s.canaryWeight === [20, 50, 100][s.rolloutStep]
      )
        starts.set(s.rolloutStep, (starts.get(s.rolloutStep) ?? new Set()).add(s.stepStartTime));
    expect([...starts.values()].map((x) => x.size)).toEqual([1, 1, 1]);
    const reasons = (await models.events('ads')).map((e) => e.reason);
    expect(reasons.filter((r) => r === 'RolloutStarted')).toHaveLength(1);
    expect(reasons.filter((r) => r === 'RolloutStep')).toHaveLength(2);
    expect(reasons.filter((r) => r === 'RolloutPromoted')).toHaveLength(1);
  }, 240_000);
});

function tableWeight(cm: KubeObject): number {
  const content = (cm as KubeObject & { data?: Record<string, string> }).data?.[ROUTER_TABLE_KEY];
  const route = content ? parseTable(content).models.get('ads')?.segments.get('standard') : undefined;
  return route?.backends.find((b) => b.track === 'canary')?.weight ?? 0;
}
