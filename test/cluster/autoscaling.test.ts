// Autoscaling end to end on real parts: the real kube-controller-manager's HorizontalPodAutoscaler
// (sync period shortened to 2 s) scales the `standard` segment on its own load, read from the
// custom metrics API (prometheus-adapter behind the aggregation layer, reading a Prometheus that
// discovers and scrapes the scoring pods), while `shopping` (a fixed segment) stays put. Scoring
// pods run on the local node agent as real server + sidecar processes; its node advertises 5 GPUs
// as a named test double (the servers' CUDA provider falls back to CPU), so shopping's pod and 4
// of standard's fit and the 5th cannot be placed. Load comes from vegeta through the model's
// router.
//
// Given standard autoscaled 1..5 at 5 requests/s per pod, when 30 requests/s reach it, then the
// HPA asks for 5 pods, 4 become ready, the model says ScaleLimited (desired vs ready and the
// scheduler's reason) and `scale` shows desired/current; shopping keeps its 1 pod; the operator
// never owns the stable Deployment's replicas (managedFields); when the load stops the segment
// goes back to 1. The timeline (load start → first scale-up → steady → scale-down) is printed.
// Then: autoscaling turned off and on again (no dip), and a canary started while the stable
// scales up follows the stable's count at its step's weight.
import { mkdtemp, rm } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, AutoscalingV2Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAddressOf } from '../../agent/addresses.js';
import { startNodeAgent, type NodeAgent } from '../../agent/agent.js';
import { createLogger } from '../../lib/logger.js';
import { FIELD_MANAGER } from '../../operator/runtime/kube/client.js';
import { startInProcessOperator, type InProcessOperator } from '../../operator/testing.js';
import { buildVegeta, Vegeta, type VegetaResult } from '../../bench/lib/vegeta.js';
import { demoRankingModel, GPU_TEST_DOUBLE_LABEL, modelRef } from '../../scripts/demo/model.js';
import { startPrometheus, type DemoPrometheus } from '../../scripts/demo/prometheus.js';
import {
  buildDemoStorage,
  serveDirectory,
  type DemoStorage,
  type FileServer,
} from '../../scripts/demo/storage.js';
import { createTestNamespace } from '../harness/cluster.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { startCustomMetricsApi, type CustomMetricsApi } from '../harness/custom-metrics.js';
import { applyManifests, readManifests } from '../harness/manifests.js';
import { getJson, rawRequest, serverSideApply } from '../harness/raw.js';
import { prometheusBinary, TOOL_BUILD_TIMEOUT_MS } from '../harness/tools.js';
import { waitFor } from '../harness/wait.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const MODEL = 'ads-ranker';
const NODE = 'lightrank-autoscale';
const GPUS = 5;
const MAX = 5;
const TARGET_RPS = 5;
const LOAD_RPS = 30;
const LOAD_MS = 110_000;
const ROUTER_PORT = 8080;

let cp: ControlPlane;
let root: string;
let namespace: string;
let agent: NodeAgent;
let operator: InProcessOperator;
let storage: DemoStorage;
let files: FileServer;
let prometheus: DemoPrometheus;
let metricsApi: CustomMetricsApi;
let vegetaBin: string | undefined;

interface Dep {
  spec?: { replicas?: number };
  status?: { replicas?: number; readyReplicas?: number };
  metadata?: { managedFields?: { manager?: string; fieldsV1?: { 'f:spec'?: Record<string, unknown> } }[] };
}
interface Rkm {
  status?: {
    scale?: string;
    conditions?: { type: string; status: string; reason: string; message: string }[];
    segments?: {
      name: string;
      replicas?: number;
      currentReplicas?: number;
      autoscaler?: string;
      rolloutStep?: number;
      rolloutPhase?: string;
      stableVersion?: string;
    }[];
  };
}

beforeAll(async () => {
  vegetaBin = buildVegeta();
  cp = await startControlPlane({ gpuNodes: 0, cpuNodes: 0, hpaSyncPeriodSeconds: 2 });
  await applyManifests(cp.kubeConfig, readManifests(join(REPO, 'crds')));
  namespace = await createTestNamespace(cp.kubeConfig.makeApiClient(CoreV1Api), 'autoscaling');
  root = await mkdtemp(join(tmpdir(), 'lightrank-autoscaling-'));
  const agentDir = join(root, 'node-agent');
  mkdirSync(agentDir, { recursive: true });
  agent = await startNodeAgent({
    kubeConfig: cp.kubeConfig,
    nodeName: NODE,
    runDir: agentDir,
    // a named test double: the node advertises GPUs it does not have, so the GPU limit applies
    gpuTestDouble: { count: GPUS },
    podKubeconfig: cp.kubeconfigPath,
    log: createLogger('node-agent', { level: 'warn' }),
  });
  await waitFor(
    `node ${NODE} Ready without node.kubernetes.io taints`,
    async () => {
      const n = await cp.kubeConfig.makeApiClient(CoreV1Api).readNode({ name: NODE });
      const ready = n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      return ready && !(n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  storage = await buildDemoStorage(join(root, 'storage'));
  files = await serveDirectory(storage.root);
  prometheus = await startPrometheus({
    bin: await prometheusBinary(),
    kubeconfigPath: cp.kubeconfigPath,
    namespace,
    runDir: cp.runDir,
  });
  metricsApi = await startCustomMetricsApi({ cp, prometheusUrl: prometheus.url });
  operator = await startInProcessOperator(cp.kubeconfigPath, namespace);
}, TOOL_BUILD_TIMEOUT_MS + 240_000);

afterAll(async () => {
  await operator?.stop();
  await metricsApi?.stop();
  await prometheus?.stop();
  await files?.close();
  await agent?.stop();
  await cp?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

function manifest() {
  const m = demoRankingModel({
    namespace,
    storage,
    storageUrl: files.url,
    nodeName: NODE,
    stepSeconds: 5,
  });
  m.spec.serving.nodeSelector = { 'kubernetes.io/hostname': NODE, [GPU_TEST_DOUBLE_LABEL]: 'true' };
  const standard = m.spec.segments.find((s) => s.name === 'standard')!;
  delete standard.replicas;
  standard.autoscaling = {
    minReplicas: 1,
    maxReplicas: MAX,
    metric: 'requestsPerSecond',
    target: TARGET_RPS,
    behavior: { scaleUpStabilizationSeconds: 0, scaleDownStabilizationSeconds: 10 },
  };
  return m;
}

const apps = () => cp.kubeConfig.makeApiClient(AppsV1Api);
const deployment = (name: string) => apps().readNamespacedDeployment({ name, namespace }) as Promise<Dep>;
const rkm = async () =>
  (await cp.kubeConfig.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: 'lightrank.dev',
    version: 'v1alpha1',
    namespace,
    plural: 'rankingmodels',
    name: MODEL,
  })) as Rkm;

/** The router pod's loopback address (the agent serves pod IP 10.250.x.y on 127.250.x.y). */
async function routerUrl(): Promise<string> {
  const pods = await cp.kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({
    namespace,
    labelSelector: 'app.kubernetes.io/component=router',
  });
  const ready = pods.items.find((p) =>
    p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
  if (!ready?.status?.podIP) throw new Error('no ready router pod yet');
  return `http://${localAddressOf(ready.status.podIP)}:${ROUTER_PORT}/v1/models/${MODEL}/rank`;
}

describe('autoscaling a segment with the real HPA', () => {
  it('scales standard 1 → N under load through the router and back, shopping stays, GPU limits show', async () => {
    if (!vegetaBin) throw new Error('vegeta could not be built (scripts/build-vegeta.sh)');
    await serverSideApply(
      cp.kubeConfig,
      `/apis/lightrank.dev/v1alpha1/namespaces/${namespace}/rankingmodels/${MODEL}`,
      manifest(),
      'autoscaling-test',
    );
    const hpa = await waitFor(
      'the operator’s HPA for standard',
      () =>
        cp.kubeConfig
          .makeApiClient(AutoscalingV2Api)
          .readNamespacedHorizontalPodAutoscaler({ name: `${MODEL}-standard`, namespace }),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: `${MODEL}-standard` },
      minReplicas: 1,
      maxReplicas: MAX,
      metrics: [{ type: 'Pods', pods: { metric: { name: 'lightrank_requests_per_second' } } }],
    });
    // every pod up: standard at 1, shopping at 1, the router
    await waitFor(
      'standard, shopping and the router ready',
      async () => {
        const [s, p, r] = await Promise.all(
          [`${MODEL}-standard`, `${MODEL}-shopping`, `${MODEL}-router`].map(deployment),
        );
        return [s, p, r].every((d) => (d!.status?.readyReplicas ?? 0) >= 1) ? true : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 1_000 },
    );
    const url = await waitFor('a ready router pod', routerUrl, { timeoutMs: 60_000, intervalMs: 500 });
    // the router answers for standard before the clock starts
    const bodies = Array.from({ length: 16 }, (_, b) =>
      Buffer.from(
        JSON.stringify({
          query: {
            dense: Array.from({ length: storage.query.numDense }, (_, i) => Math.sin(b + i) * 0.5),
            categorical: Array.from(
              { length: storage.query.numCategorical },
              (_, i) => (b * 31 + i * 7) % 1000,
            ),
          },
          candidates: storage.itemIds.standard.slice(b * 8, b * 8 + 32),
        }),
      ),
    );
    const vegeta = new Vegeta(vegetaBin, root, { url, bodies, contentType: 'application/json' });
    await waitFor(
      'the router serving standard',
      async () => (await vegeta.openLoop({ rate: 5, durationMs: 1_000 })).ok > 0,
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );

    // ---- load: follow the stable Deployments and the model's status every half second
    const t0 = Date.now();
    const at = (t: number) => `${((t - t0) / 1000).toFixed(1)} s`;
    const timeline: string[] = [];
    const marks: Record<string, number> = {};
    let shoppingMax = 0;
    let limited: { reason: string; message: string } | undefined;
    let scale = '';
    let loadDone = false;
    let loadResult: VegetaResult | undefined;
    const load = vegeta.openLoop({ rate: LOAD_RPS, durationMs: LOAD_MS }).then((r) => {
      loadResult = r;
      loadDone = true;
      marks.loadStop = Date.now();
      timeline.push(`${at(marks.loadStop)}  load stops (${r.sent} requests, ${r.ok} ok)`);
    });
    timeline.push(`0.0 s  load starts: ${LOAD_RPS} requests/s through the router to standard`);
    let last = '';
    const observe = async () => {
      const [s, p, m] = await Promise.all([
        deployment(`${MODEL}-standard`),
        deployment(`${MODEL}-shopping`),
        rkm(),
      ]);
      shoppingMax = Math.max(shoppingMax, p.spec?.replicas ?? 0, p.status?.replicas ?? 0);
      const want = s.spec?.replicas ?? 0;
      const ready = s.status?.readyReplicas ?? 0;
      const cond = m.status?.conditions?.find((c) => c.type === 'ScaleLimited');
      scale = m.status?.scale ?? scale;
      const line = `standard desired ${want} ready ${ready}; scale ${m.status?.scale}; ScaleLimited ${cond?.status}/${cond?.reason}`;
      if (line !== last) timeline.push(`${at(Date.now())}  ${line}`);
      last = line;
      if (!marks.firstUp && want > 1) marks.firstUp = Date.now();
      if (cond?.status === 'True' && cond.reason === 'PodsUnschedulable') limited = cond;
      if (!marks.steady && want === MAX && ready === GPUS - 1 && limited) marks.steady = Date.now();
      return { want, ready };
    };
    await waitFor(
      'standard at its steady state under load (5 wanted, 3 ready, ScaleLimited)',
      async () => {
        await observe();
        if (marks.steady) return true;
        if (loadDone) throw new Error('the load ended first');
        return undefined;
      },
      { timeoutMs: LOAD_MS, intervalMs: 500 },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\ntimeline:\n${timeline.join('\n')}`);
    });
    await load;
    await waitFor(
      'standard back to 1 after the load',
      async () => ((await observe()).want === 1 ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 500 },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\ntimeline:\n${timeline.join('\n')}`);
    });
    marks.down = Date.now();
    timeline.push(
      `summary: first scale-up ${at(marks.firstUp!)}, steady ${at(marks.steady!)}, load stop ${at(marks.loadStop!)}, back to 1 ${at(marks.down)} (${((marks.down - marks.loadStop!) / 1000).toFixed(1)} s after the load)`,
    );
    console.log(
      `autoscaling timeline (HPA sync 2 s, load ${LOAD_RPS}/s, target ${TARGET_RPS}/s per pod):\n${timeline.join('\n')}\nScaleLimited at the steady state: ${limited?.reason}: ${limited?.message}`,
    );

    expect(loadResult!.ok / loadResult!.sent).toBeGreaterThan(0.95);
    expect(shoppingMax).toBe(1);
    expect(limited!.message).toMatch(
      new RegExp(
        `standard: the autoscaler wants ${MAX} pods, ${GPUS - 1} ready; ${MAX - GPUS + 1} pod\\(s\\) cannot be scheduled: .*Insufficient nvidia\\.com/gpu`,
      ),
    );
    expect(scale).toMatch(/^standard=\d+\/\d+,shopping=1\/1$/);

    // the operator never owns replicas of the autoscaled Deployment: the HPA's manager does
    // (read as raw JSON: managedFields exactly as the API server keeps them)
    const stable = await getJson<Dep>(
      cp.kubeConfig,
      `/apis/apps/v1/namespaces/${namespace}/deployments/${MODEL}-standard`,
    );
    const fields = stable.metadata?.managedFields ?? [];
    const owners = fields
      .filter((f) => JSON.stringify(f.fieldsV1?.['f:spec'] ?? {}).includes('"f:replicas"'))
      .map((f) => f.manager);
    const context = `managedFields: ${JSON.stringify(fields)}`;
    // the operator's Apply entry never holds spec.replicas (the HPA's writes go through the scale
    // subresource; on this version they add no owner entry for the field, so the count the HPA set
    // is what the timeline above followed: 1 → 5 → 1 while the operator kept applying)
    expect(owners, context).not.toContain(FIELD_MANAGER);
    expect(
      fields.some((f) => f.manager === FIELD_MANAGER),
      context,
    ).toBe(true);
    const status = await rkm();
    expect(status.status?.segments?.find((s) => s.name === 'standard')).toMatchObject({
      replicas: 1,
      autoscaler: `HorizontalPodAutoscaler/${MODEL}-standard`,
    });
    expect(status.status?.conditions?.find((c) => c.type === 'ScaleLimited')?.status).toBe('False');
  }, 600_000);

  it('turned off: the HPA goes and replicas are the spec’s; turned on again: no dip to 1', async () => {
    const fixed = manifest();
    const standard = fixed.spec.segments.find((x) => x.name === 'standard')!;
    delete standard.autoscaling;
    standard.replicas = 2;
    const path = `/apis/lightrank.dev/v1alpha1/namespaces/${namespace}/rankingmodels/${MODEL}`;
    await serverSideApply(cp.kubeConfig, path, fixed, 'autoscaling-test');
    const hpas = cp.kubeConfig.makeApiClient(AutoscalingV2Api);
    await waitFor(
      'no HPA, standard fixed at 2 and ready, no ScaleLimited condition',
      async () => {
        const list = await hpas.listNamespacedHorizontalPodAutoscaler({ namespace });
        const d = await deployment(`${MODEL}-standard`);
        const m = await rkm();
        return list.items.length === 0 &&
          d.spec?.replicas === 2 &&
          d.status?.readyReplicas === 2 &&
          !m.status?.conditions?.some((c) => c.type === 'ScaleLimited')
          ? true
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );

    // autoscaling back on (min 1, a minute before any scale-down): the count the operator set is
    // handed over, not dropped, so the Deployment keeps 2 until the HPA decides otherwise
    const auto = manifest();
    auto.spec.segments.find((x) => x.name === 'standard')!.autoscaling = {
      minReplicas: 1,
      maxReplicas: MAX,
      target: TARGET_RPS,
      behavior: { scaleDownStabilizationSeconds: 60 },
    };
    await serverSideApply(cp.kubeConfig, path, auto, 'autoscaling-test');
    await waitFor(
      'the HPA back',
      () => hpas.readNamespacedHorizontalPodAutoscaler({ name: `${MODEL}-standard`, namespace }),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const seen = new Set<number>();
    const until = Date.now() + 8_000;
    while (Date.now() < until) {
      seen.add((await deployment(`${MODEL}-standard`)).spec?.replicas ?? -1);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect([...seen]).toEqual([2]);
    const raw = await getJson<Dep>(
      cp.kubeConfig,
      `/apis/apps/v1/namespaces/${namespace}/deployments/${MODEL}-standard`,
    );
    const owners = (raw.metadata?.managedFields ?? [])
      .filter((f) => JSON.stringify(f.fieldsV1?.['f:spec'] ?? {}).includes('"f:replicas"'))
      .map((f) => f.manager);
    expect(owners).toContain('lightrank-autoscaling-handover');
    expect(owners).not.toContain(FIELD_MANAGER);
  }, 240_000);

  it('a canary started while the stable scales up follows its count × the step weight', async () => {
    // 5 GPUs: shopping off (0), standard 1..2; stable 2 + canary 2 + one surge pod at promotion
    const path = `/apis/lightrank.dev/v1alpha1/namespaces/${namespace}/rankingmodels/${MODEL}`;
    const spec = (version: 'v1' | 'v2') => {
      const m = manifest();
      for (const s of m.spec.segments) {
        if (s.name === 'shopping') s.replicas = 0;
        else
          s.autoscaling = {
            minReplicas: 1,
            maxReplicas: 2,
            target: TARGET_RPS,
            behavior: { scaleDownStabilizationSeconds: 0 },
          };
      }
      if (version === 'v2') m.spec.model = modelRef(storage.standard.v2, files.url);
      m.spec.rollout = {
        steps: [
          // held until the test has seen the canary follow the stable up (the HPA's pace
          // through Prometheus varies with the machine's load), then promoted by annotation
          { weight: 60, pauseSeconds: 600 },
          { weight: 100, pauseSeconds: 0 },
        ],
      };
      return m;
    };
    await serverSideApply(cp.kubeConfig, path, spec('v1'), 'autoscaling-test');
    await waitFor(
      'standard at 1 without load',
      async () =>
        (await deployment(`${MODEL}-standard`)).status?.readyReplicas === 1 &&
        (await deployment(`${MODEL}-standard`)).spec?.replicas === 1
          ? true
          : undefined,
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const url = await waitFor('a ready router pod', routerUrl, { timeoutMs: 30_000, intervalMs: 500 });
    const bodies = [
      Buffer.from(
        JSON.stringify({
          query: {
            dense: Array.from({ length: storage.query.numDense }, () => 0.25),
            categorical: Array.from({ length: storage.query.numCategorical }, (_, i) => i),
          },
          candidates: storage.itemIds.standard.slice(0, 32),
        }),
      ),
    ];
    const vegeta = new Vegeta(vegetaBin!, root, { url, bodies, contentType: 'application/json' });
    // load that wants 3 pods (capped at 2), and at once the new version: the rollout starts at 1
    const load = vegeta.openLoop({ rate: 15, durationMs: 150_000 });
    await serverSideApply(cp.kubeConfig, path, spec('v2'), 'autoscaling-test');
    const seen: string[] = [];
    let followed = false;
    let floorHeld = false;
    let promoted = false;
    const hpas = cp.kubeConfig.makeApiClient(AutoscalingV2Api);
    try {
      await waitFor(
        'the canary following the stable to 2 at step 1 (60%), then promotion',
        async () => {
          const [s, c, m] = await Promise.all([
            deployment(`${MODEL}-standard`),
            deployment(`${MODEL}-standard-canary`).catch(() => undefined),
            rkm(),
          ]);
          const seg = m.status?.segments?.find((x) => x.name === 'standard');
          const line = `stable ${s.spec?.replicas} canary ${c?.spec?.replicas ?? '-'} step ${seg?.rolloutStep ?? '-'} ${seg?.rolloutPhase} stable=${seg?.stableVersion}`;
          if (seen.at(-1) !== line) seen.push(line);
          if (
            seg?.rolloutPhase === 'Progressing' &&
            seg.rolloutStep === 0 &&
            s.spec?.replicas === 2 &&
            c?.spec?.replicas === 2
          )
            followed = true;
          if (seg?.rolloutPhase === 'Progressing') {
            const hpa = await hpas.readNamespacedHorizontalPodAutoscaler({
              name: `${MODEL}-standard`,
              namespace,
            });
            if (hpa.spec?.minReplicas === 2) floorHeld = true;
          }
          if (followed && floorHeld && !promoted) {
            const res = await rawRequest(cp.kubeConfig, 'PATCH', path, {
              body: { metadata: { annotations: { 'lightrank.dev/promote': 'full' } } },
              contentType: 'application/merge-patch+json',
            });
            promoted = res.status === 200;
          }
          return seg?.rolloutPhase === 'Stable' && seg.stableVersion === 'v2' ? true : undefined;
        },
        { timeoutMs: 150_000, intervalMs: 500 },
      );
    } catch (err) {
      throw new Error(`${String(err)}\nseen:\n${seen.join('\n')}`);
    }
    // promoted under load: the stable keeps the 2 pods the HPA set (no dip), and the HPA its floor back
    const after = await deployment(`${MODEL}-standard`);
    await load;
    console.log(`canary during an autoscaled rollout:\n${seen.join('\n')}`);
    expect(followed, seen.join('\n')).toBe(true);
    expect(floorHeld, seen.join('\n')).toBe(true);
    expect(after.spec?.replicas).toBe(2);
    expect(
      seen.every((l) => !/^stable 1 canary 2/.test(l)),
      seen.join('\n'),
    ).toBe(true);
  }, 300_000);
});
