// What traffic a canary gets, read from watches (every version of the router table, the
// HTTPRoute, the canary Deployment and the model; a poll would miss a version that lives 100 ms):
//  - no blip: through a whole rollout the canary's weight goes 0 → 20 → 50 → 100 → 0, each once,
//    never back down mid-rollout (with 2 replicas, and with 6, where each step scales the canary);
//  - scale before shift: every weight is written after the canary Deployment had that step's
//    replicas Ready (etcd's one revision counter orders the two writes);
//  - analysis on schedule: a canary that turns bad in the middle of a 60 s step loses its traffic
//    within intervalSeconds and a query.
// Prometheus is the test double (test/prometheus/fake-prometheus.ts): it stands in for a metrics
// backend so the verdict can be switched at a known moment.
import { describe, expect, it } from 'vitest';
import { parseTable } from '../../router/table.js';
import { DEPLOYMENTS, type KubeObject, CONFIGMAPS, HTTPROUTES } from '../../operator/runtime/kube/types.js';
import { RANKING_MODELS } from '../../operator/reconciler.js';
import type { HttpRoute } from '../../operator/traffic/gatewayapi/httproute.js';
import { ROUTER_TABLE_KEY, routerName } from '../../operator/traffic/router/objects.js';
import { healthy } from '../prometheus/fake-prometheus.js';
import { waitFor } from '../harness/cluster.js';
import {
  Recorder,
  changes,
  condition,
  rolloutSpec,
  useRolloutFixture,
  type Model,
  type Version,
} from './rollout-helpers.js';

const fx = useRolloutFixture('rollout-traffic');
const ns = fx.ns;

type Mode = 'router' | 'gatewayAPI';
type Deployment = KubeObject & {
  spec: { replicas?: number };
  status?: { observedGeneration?: number; readyReplicas?: number; updatedReplicas?: number };
};

const standard = (m: Model) => m.status?.segments?.find((s) => s.name === 'standard');

/** The standard segment's canary weight in one version of the routing object. */
function canaryWeight(mode: Mode, model: string, o: KubeObject): number {
  if (mode === 'gatewayAPI') {
    const r = o as HttpRoute;
    return r.spec.rules[0]?.backendRefs.find((b) => b.name.endsWith('-canary'))?.weight ?? 0;
  }
  const content = (o as KubeObject & { data?: Record<string, string> }).data?.[ROUTER_TABLE_KEY];
  if (content === undefined) return 0;
  const route = parseTable(content).models.get(model)?.segments.get('standard');
  return route?.backends.find((b) => b.track === 'canary')?.weight ?? 0;
}

/** The canary replicas a step needs (operator/rollout/segment.ts: the step's share, at least 1). */
const wantFor = (replicas: number, weight: number) => Math.max(1, Math.ceil((replicas * weight) / 100));

/** Each routing version that raised the weight, with the canary as it was just before it. */
function shifts(
  mode: Mode,
  model: string,
  routing: Version[],
  canary: Recorder<Deployment>,
  replicas: number,
): string[] {
  const problems: string[] = [];
  let prev = 0;
  for (const v of routing) {
    if (v.type === 'DELETED') continue;
    const w = canaryWeight(mode, model, v.object);
    if (w > prev) {
      const d = canary.before(v.rv);
      const want = wantFor(replicas, w);
      const st = d?.status ?? {};
      const ready =
        d !== undefined &&
        (st.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
        (d.spec.replicas ?? 0) >= want &&
        (st.readyReplicas ?? 0) >= want &&
        (st.updatedReplicas ?? 0) >= want;
      if (!ready)
        problems.push(
          `${w}% written (rv ${v.rv}) while the canary had ${st.readyReplicas ?? 0}/${want} ready (spec ${d?.spec.replicas ?? 'none'})`,
        );
    }
    prev = w;
  }
  return problems;
}

async function rollOut(name: string, replicas: number, mode: Mode) {
  fx.prom.script = { canary: healthy(), stable: healthy() };
  const spec = rolloutSpec(
    fx.prom.url,
    mode === 'gatewayAPI'
      ? { routing: { mode: 'gatewayAPI', parentRefs: [{ name: 'edge', sectionName: 'http' }] } }
      : {},
  );
  spec.segments = spec.segments.map((s) => (s.name === 'standard' ? { ...s, replicas } : s));
  await fx.models.create(name, spec);
  await fx.models.waitFor(name, 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
  const client = fx.models.client;
  const canary = await new Recorder<Deployment>(
    client,
    DEPLOYMENTS,
    ns.name,
    (n) => n === `${name}-standard-canary`,
  ).start();
  const routing = await new Recorder(
    client,
    mode === 'router' ? CONFIGMAPS : HTTPROUTES,
    ns.name,
    (n) => n === (mode === 'router' ? routerName(name) : `${name}-standard`),
  ).start();
  const models = await new Recorder<Model>(client, RANKING_MODELS, ns.name, (n) => n === name).start();

  await fx.models.setVersion(name, 'v2');
  await fx.models.waitFor(
    name,
    'promoted',
    (m) => standard(m)?.rolloutPhase === 'Stable' && standard(m)?.stableVersion === 'v2',
    90_000,
  );
  await fx.models.canaryRemoved(name, 'standard');
  const canaryVersions = canary.stop();
  const routingVersions = routing.stop();
  const modelVersions = models.stop();

  const tableWeights = routingVersions
    .filter((v) => v.type !== 'DELETED')
    .map((v) => canaryWeight(mode, name, v.object));
  const statusWeights = modelVersions.map((v) => standard(v.object)?.canaryWeight ?? 0);
  return {
    tableWeights: changes(tableWeights),
    statusWeights: changes(statusWeights),
    problems: shifts(mode, name, routingVersions, canary, replicas),
    canaryReplicas: changes(canaryVersions.map((v) => v.object.spec.replicas ?? 0)),
  };
}

describe('the weights a rollout writes', () => {
  it.each([
    ['router', 2],
    ['router', 6],
    ['gatewayAPI', 6],
  ] as const)(
    '%s, %i replicas: each weight once, never backwards, after the canary is Ready',
    async (mode, replicas) => {
      const r = await rollOut(`w-${mode.toLowerCase()}-${replicas}`, replicas, mode);
      expect(r.tableWeights).toEqual([0, 20, 50, 100, 0]);
      expect(r.statusWeights).toEqual([0, 20, 50, 100, 0]);
      expect(r.problems).toEqual([]);
      // the canary grew with the steps, and only upwards
      const want = [...new Set([20, 50, 100].map((w) => wantFor(replicas, w)))];
      expect(r.canaryReplicas).toEqual(want);
    },
    120_000,
  );
});

describe('analysis during a step', () => {
  it('takes the traffic from a canary that turns bad mid-step within intervalSeconds and a query', async () => {
    fx.prom.script = { canary: healthy(), stable: healthy() };
    const spec = rolloutSpec(fx.prom.url);
    spec.rollout!.steps = [
      { weight: 20, pauseSeconds: 60 },
      { weight: 100, pauseSeconds: 0 },
    ];
    const interval = spec.rollout!.analysis!.intervalSeconds!;
    await fx.models.create('midstep', spec);
    await fx.models.waitFor('midstep', 'Ready on v1', (m) => condition(m, 'Ready')?.status === 'True');
    const table = await new Recorder(
      fx.models.client,
      CONFIGMAPS,
      ns.name,
      (n) => n === routerName('midstep'),
    ).start();
    await fx.models.setVersion('midstep', 'v2');
    await fx.models.waitFor(
      'midstep',
      'canary at 20% with a passing verdict',
      (m) => standard(m)?.canaryWeight === 20 && standard(m)?.lastAnalysis?.result === 'Passed',
    );
    // a few seconds into the 60 s step the canary turns bad
    await new Promise((r) => setTimeout(r, 3000));
    const queries = fx.prom.queries.length;
    const turned = Date.now();
    fx.prom.script = { canary: { ...healthy(), errorRate: 0.2 }, stable: healthy() };
    const lost = await waitFor(
      'the canary back to 0% in the router table',
      async () => {
        const last = table.versions.at(-1);
        return last && canaryWeight('router', 'midstep', last.object) === 0 ? Date.now() : false;
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    table.stop();
    expect(lost - turned).toBeLessThanOrEqual(interval * 1000 + 1500);
    expect(fx.prom.queries.length).toBeGreaterThan(queries);
    const m = await fx.models.waitFor(
      'midstep',
      'rolled back',
      (x) => standard(x)?.rolloutPhase === 'RolledBack',
    );
    expect(condition(m, 'Degraded')).toMatchObject({ status: 'True', reason: 'AnalysisFailed' });
    expect(standard(m)?.lastAnalysis?.message).toMatch(/error rate 0\.2 > 0\.01/);
  });
});
