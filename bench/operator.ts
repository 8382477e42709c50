// Benchmark of the operator against the control plane in a box: 200 RankingModels × 2 segments
// (1 replica each, cuda, on kwok GPU nodes) applied at once to a real operator process. Reports
//   - time until the operator has applied every Deployment and Service,
//   - time until every RankingModel is Ready (pods scheduled and running, status written),
//   - API writes by the operator during a full resync where nothing changed (goal 0; counted in
//     the API server's audit log by the operator's user agent),
//   - reconcile p50/p99 (from the operator's reconcile-duration histogram, interpolated the way
//     PromQL's histogram_quantile does), and the operator's RSS (process_resident_memory_bytes).
// Goal: converge in ≤ 30 s.
// Side by side in the same run, first, the floor (bench/lib/operator-floor.ts): the same objects
// applied by a plain client on a fresh control plane of the same size, no operator; the ratio
// operator / floor is the operator's own cost. Both report the CPU every process on the machine
// used while converging, and every client's writes.
// Also the operator's writes per model (goal ≤ 10) and, with --heap-snapshot DIR, a heap snapshot
// of the converged operator (node --heapsnapshot-signal) summarised by constructor
// (bench/lib/heap-summary.ts). --compiled runs the built operator (`npm run build` first:
// dist/operator/main.js with the image's Node flags, OPERATOR_NODE_ARGS, as the image runs it)
// instead of operator/main.ts through tsx; --node-arg flags come after them (the later wins).
// --operator-log FILE keeps what the operator logged (JSON lines), e.g. its `status updated` lines.
//   npm run bench:operator -- [--models 200] [--segments 2] [--workers 16] [--no-floor] [--compiled]
//                             [--heap-snapshot DIR] [--operator-log FILE]
//                             [--node-arg=--max-semi-space-size=2 ...] [--router-scope model|namespace]
// --router-scope namespace gives every model spec.routing.routerScope namespace (one shared router for
// the namespace, traffic/router/shared.ts); the floor then applies what the operator does in that scope.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { RankingModelSpecSchema, type RankingModelSpecInput } from '../api/rankingmodel.js';
import { minimalSpec } from '../api/testing.js';
import { RANKING_MODELS } from '../operator/reconciler.js';
import {
  OPERATOR_NODE_ARGS,
  rankingModel,
  REPO_ROOT,
  spawnOperator,
  testClient,
  userAgentOf,
} from '../operator/testing.js';
import type { AuditEvent } from '../test/harness/audit.js';
import { startControlPlane, type ControlPlane } from '../test/harness/control-plane.js';
import { measureFloor, type FloorResult } from './lib/operator-floor.js';
import { summarizeHeap } from './lib/heap-summary.js';
import { cpuSeconds } from './lib/proc.js';
import { createTestNamespace } from '../test/harness/cluster.js';
import { applyManifests, readManifests } from '../test/harness/manifests.js';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string', default: '200' },
    segments: { type: 'string', default: '2' },
    workers: { type: 'string', default: '16' },
    'no-floor': { type: 'boolean', default: false },
    compiled: { type: 'boolean', default: false },
    'heap-snapshot': { type: 'string' },
    'operator-log': { type: 'string' },
    'node-arg': { type: 'string', multiple: true, default: [] },
    'router-scope': { type: 'string', default: 'model' },
  },
});
const ROUTER_SCOPE = args['router-scope'];
if (ROUTER_SCOPE !== 'model' && ROUTER_SCOPE !== 'namespace')
  throw new Error(`--router-scope must be model or namespace, got "${ROUTER_SCOPE}"`);
if (args.compiled && !existsSync(join(REPO_ROOT, 'dist/operator/main.js')))
  throw new Error('--compiled runs dist/operator/main.js: run `npm run build` first');
const heapDir = args['heap-snapshot'] ? resolve(args['heap-snapshot']) : undefined;
if (heapDir) mkdirSync(heapDir, { recursive: true });
const MODELS = Number(args.models);
const SEGMENTS = Number(args.segments);
const RESYNC_S = 15;
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spec(): RankingModelSpecInput {
  const base = minimalSpec();
  return {
    ...base,
    ...(ROUTER_SCOPE === 'namespace' ? { routing: { routerScope: 'namespace' as const } } : {}),
    segments: Array.from({ length: SEGMENTS }, (_, i) => ({
      name: `seg${i}`,
      replicas: 1,
      ...(i === 0 ? { match: { default: true } } : {}),
    })),
  };
}
RankingModelSpecSchema.parse(spec());

/**
 * PromQL histogram_quantile over one prom-client histogram in Prometheus text format; `labels`
 * (e.g. 'verb="apply"') picks one series.
 */
function histogramQuantile(metrics: string, name: string, q: number, labels = ''): number {
  const buckets = [...metrics.matchAll(new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, 'gm'))]
    .filter((m) => m[1]!.includes(labels))
    .map((m) => {
      const le = /le="([^"]+)"/.exec(m[1]!)![1]!;
      return { le: le === '+Inf' ? Infinity : Number(le), n: Number(m[2]) };
    });
  const total = buckets.at(-1)?.n ?? 0;
  const rank = q * total;
  let prev = { le: 0, n: 0 };
  for (const b of buckets) {
    if (b.n >= rank) {
      if (b.le === Infinity) return prev.le;
      return prev.le + ((b.le - prev.le) * (rank - prev.n)) / Math.max(1, b.n - prev.n);
    }
    prev = b;
  }
  return NaN;
}
/** CPU seconds a process has used so far (0 once it is gone). */
function cpuSecondsOr0(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}
const metricValue = (metrics: string, re: RegExp) =>
  [...metrics.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);

const nodesNeeded = Math.ceil((MODELS * SEGMENTS) / 16) + 1;
// each model's router (2 replicas, no GPU) runs on CPU nodes, 110 pods per node
const cpuNodes = Math.ceil((MODELS * 2) / 100) + 1;
const names = Array.from({ length: MODELS }, (_, i) => `m${String(i).padStart(3, '0')}`);
const startCluster = async () => {
  log(`starting a control plane (${nodesNeeded} GPU nodes × 16 GPUs, ${cpuNodes} CPU nodes)`);
  return startControlPlane({ gpuNodes: nodesNeeded, gpusPerNode: 16, cpuNodes, quietBuild: true });
};
let current: ControlPlane | undefined;
// interrupted: leave no control-plane process behind
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130)));
}

/** CPU seconds by process and every client's writes, over a converge window. */
interface Window {
  cpuUsed: (readonly [string, number])[];
  cpuTotal: number;
  writes: AuditEvent[];
}
function openWindow(cluster: ControlPlane, extra: Record<string, number | undefined> = {}): () => Window {
  const cpuAt = () =>
    Object.fromEntries(
      Object.entries({ ...cluster.pids(), ...extra }).map(([name, pid]) => [name, cpuSecondsOr0(pid)]),
    );
  const cpu0 = cpuAt();
  const since = new Date();
  return () => {
    const cpu1 = cpuAt();
    const cpuUsed = Object.entries(cpu1)
      .map(([name, sec]) => [name, sec - (cpu0[name] ?? 0)] as const)
      .sort((a, b) => b[1] - a[1]);
    return {
      cpuUsed,
      cpuTotal: cpuUsed.reduce((sum, [, sec]) => sum + sec, 0),
      writes: cluster.auditEvents({ since }),
    };
  };
}
const tally = (keys: string[]) => {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`);
};
const clientOf = (e: AuditEvent) => (e.userAgent ?? '?').split('/')[0]!.split(' ')[0]!;
const byResource = (w: Window, client: string) =>
  tally(
    w.writes
      .filter((e) => clientOf(e) === client)
      .map(
        (e) =>
          `${e.verb} ${e.objectRef?.resource ?? '?'}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`,
      ),
  ).slice(0, 12);
const describeWindow = (w: Window, readyMs: number, clients: string[]) => [
  `  CPU while converging (2 cores)           ${w.cpuTotal.toFixed(1)} s in ${(readyMs / 1000).toFixed(1)} s: ${w.cpuUsed.map(([n, c]) => `${n} ${c.toFixed(1)} s`).join(', ')}`,
  `  writes while converging, by client       ${w.writes.length}: ${tally(w.writes.map(clientOf)).join(', ')}`,
  ...clients.map((c) => `    ${c}: ${byResource(w, c).join(', ')}`),
];

let floor: { result: FloorResult; window: Window } | undefined;
if (!args['no-floor']) {
  current = await startCluster();
  try {
    const close = openWindow(current);
    const result = await measureFloor(current, names, spec(), SEGMENTS, log, ROUTER_SCOPE);
    floor = { result, window: close() };
  } finally {
    await current.stop();
  }
}
const cp = await startCluster();
current = cp;
let exitCode = 0;
let operatorProcess: ReturnType<typeof spawnOperator> | undefined;
try {
  // the Gateway API CRDs too, as in the cluster tests: the operator looks for HTTPRoutes
  await applyManifests(cp.kubeConfig, [
    ...readManifests(join(REPO_ROOT, 'crds')),
    ...readManifests(cp.binaries.gatewayApiCrdsDir),
  ]);
  const ns = await createTestNamespace(cp.kubeConfig.makeApiClient(CoreV1Api), 'bench');
  const identity = 'bench-operator';
  const op = (operatorProcess = spawnOperator(
    identity,
    {
      KUBECONFIG: cp.kubeconfigPath,
      LIGHTRANK_WATCH_NAMESPACE: ns,
      LIGHTRANK_LEADER_ELECTION: 'false',
      LIGHTRANK_RESYNC_SECONDS: String(RESYNC_S),
      LIGHTRANK_WORKERS: String(args.workers),
    },
    {
      compiled: args.compiled,
      nodeArgs: [
        ...(args['node-arg'] ?? []),
        ...(heapDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapDir}`] : []),
      ],
    },
  ));
  const client = testClient(cp.kubeconfigPath);
  let port = 0;
  for (let i = 0; i < 200 && !port; i++) {
    await sleep(100);
    port = Number(/"port":(\d+)/.exec(op.output())?.[1] ?? 0);
    if (op.child.exitCode !== null) throw new Error(`operator exited: ${op.output()}`);
  }
  if (!port) throw new Error(`operator did not report its port: ${op.output()}`);
  const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

  log(`applying ${MODELS} RankingModels × ${SEGMENTS} segments`);
  const close = openWindow(cp, { operator: op.child.pid });
  const t0 = performance.now();
  for (let i = 0; i < names.length; i += 20) {
    await Promise.all(
      names.slice(i, i + 20).map((n) => client.create(RANKING_MODELS, rankingModel(n, ns, spec()))),
    );
  }
  const tCreated = performance.now() - t0;
  let tApplied = 0;
  let tReady = 0;
  // 300 s, and 0.9 s per model beyond (1,000 models took 281 s on this machine)
  const readyWithinS = Math.max(300, Math.round(MODELS * 0.9));
  const deadline = Date.now() + readyWithinS * 1000;
  // polled from the RankingModels alone (a list of every Deployment each time would load the
  // API server the operator is measured against); a model has a status only once the operator
  // has applied all its objects
  while (!tReady && Date.now() < deadline) {
    await sleep(500);
    const models = await client.list<{
      metadata: { name: string; generation?: number };
      status?: {
        observedGeneration?: number;
        conditions?: { type: string; status: string; observedGeneration?: number }[];
      };
    }>(RANKING_MODELS, ns);
    const current = models.items.filter((m) => m.status?.observedGeneration === m.metadata.generation);
    if (!tApplied && current.length === MODELS) tApplied = performance.now() - t0;
    const ready = current.filter((m) =>
      m.status?.conditions?.some(
        (c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === m.metadata.generation,
      ),
    ).length;
    if (ready === MODELS) tReady = performance.now() - t0;
  }
  if (!tReady) throw new Error(`not every RankingModel became Ready within ${readyWithinS} s`);
  const window = close();

  log('converged; waiting for a full resync with nothing changed');
  await sleep(2000);
  // the resync counts the writes of passes that find nothing to change: first let the operator finish
  // what converging left in flight (its Events go out in the background, a few at a time: after 1,000
  // models turned Ready, hundreds of `Ready` Events were still queued), until its writes hold still 3 s
  const quietFrom = performance.now();
  for (let last = -1, still = 0; still < 3 && performance.now() - quietFrom < 120_000;) {
    const n = cp.countAuditWrites({ userAgent: userAgentOf(identity) });
    still = n === last ? still + 1 : 0;
    last = n;
    await sleep(1000);
  }
  const quietS = (performance.now() - quietFrom) / 1000;
  const since = new Date();
  const countReconciles = async () =>
    metricValue(await metrics(), /^lightrank_operator_reconciles_total\{[^}]*\} (\S+)$/gm);
  const before = await countReconciles();
  const resyncDeadline = Date.now() + (RESYNC_S + 30) * 1000;
  while ((await countReconciles()) < before + MODELS && Date.now() < resyncDeadline) await sleep(250);
  await sleep(1000);
  const resyncReconciles = (await countReconciles()) - before;
  const resyncWrites = cp.countAuditWrites({ userAgent: userAgentOf(identity), since });
  // what they were: the Events of models that turned Ready at once (written in the background, a few
  // at a time) can still be draining when the resync starts
  const resyncKinds = tally(
    cp
      .auditEvents({ since })
      .filter((e) => clientOf(e) === 'lightrank-operator')
      .map((e) => `${e.verb} ${e.objectRef?.resource ?? '?'}`),
  );
  const allWrites = cp.countAuditWrites({ userAgent: userAgentOf(identity) });

  const text = await metrics();
  const p50 = histogramQuantile(text, 'lightrank_operator_reconcile_duration_seconds', 0.5);
  const p99 = histogramQuantile(text, 'lightrank_operator_reconcile_duration_seconds', 0.99);
  const cpu = metricValue(text, /^lightrank_process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/gm);
  const rss = metricValue(text, /^lightrank_process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$/gm);
  const heapUsed = metricValue(text, /^lightrank_nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/gm);
  // where the RSS above the heap in use lies: V8's heap as committed, memory outside it (Buffers,
  // native), and the kernel's split of the RSS into anonymous memory and mapped files (code)
  const heapTotal = metricValue(text, /^lightrank_nodejs_heap_size_total_bytes(?:\{[^}]*\})? (\S+)$/gm);
  const external = metricValue(text, /^lightrank_nodejs_external_memory_bytes(?:\{[^}]*\})? (\S+)$/gm);
  let rssSplit = '';
  try {
    const status = readFileSync(`/proc/${op.child.pid}/status`, 'utf8');
    const kb = (f: string) => Number(new RegExp(`${f}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
    rssSplit = `; RSS anonymous ${kb('RssAnon').toFixed(0)} MiB, files ${kb('RssFile').toFixed(0)} MiB`;
  } catch {
    // not Linux, or the process is gone
  }
  const reconciles = metricValue(text, /^lightrank_operator_reconciles_total\{[^}]*\} (\S+)$/gm);
  const errors = metricValue(text, /^lightrank_operator_api_errors_total\{[^}]*\} (\S+)$/gm);
  const callsByVerb = new Map<string, number>();
  for (const m of text.matchAll(
    /^lightrank_operator_api_request_duration_seconds_count\{([^}]*)\} (\S+)$/gm,
  )) {
    const verb = /verb="([^"]*)"/.exec(m[1]!)?.[1] ?? '?';
    callsByVerb.set(verb, (callsByVerb.get(verb) ?? 0) + Number(m[2]));
  }
  const errorKinds = [...text.matchAll(/^lightrank_operator_api_errors_total\{([^}]*)\} (\S+)$/gm)]
    .map((m) => `${m[1]!.replace(/component="[^"]*",?/, '')}: ${m[2]}`)
    .join('; ');

  let heapFile: string | undefined;
  if (heapDir) {
    log(`heap snapshot of the converged operator into ${heapDir}`);
    const before = new Set(readdirSync(heapDir));
    op.child.kill('SIGUSR2');
    // written synchronously on the operator's main thread: done once its size holds still and
    // the operator answers again
    let size = -1;
    for (let i = 0; i < 600; i++) {
      await sleep(1000);
      const file = readdirSync(heapDir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
      if (!file) continue;
      const now = statSync(join(heapDir, file)).size;
      if (
        now > 0 &&
        now === size &&
        (await metrics()
          .then(() => true)
          .catch(() => false))
      ) {
        heapFile = join(heapDir, file);
        break;
      }
      size = now;
    }
    if (!heapFile) log('no heap snapshot appeared');
  }
  op.child.kill('SIGTERM');
  await op.exited;
  client.close();
  if (args['operator-log']) writeFileSync(resolve(args['operator-log']), op.output());

  const ms = (metrics: string, labels: string) =>
    ['0.5', '0.99']
      .map(
        (q) =>
          `${(histogramQuantile(metrics, 'lightrank_operator_api_request_duration_seconds', Number(q), labels) * 1000).toFixed(1)} ms`,
      )
      .join(' / ');
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [
    `operator benchmark: ${MODELS} RankingModels × ${SEGMENTS} segments (1 replica each, cuda), router scope ${ROUTER_SCOPE}, on ${nodesNeeded} kwok GPU nodes, ${args.workers} workers, operator ${args.compiled ? `compiled (node ${OPERATOR_NODE_ARGS.join(' ')} dist/operator/main.js, as the image)` : 'from source (tsx)'}${args['node-arg']?.length ? ` with ${args['node-arg'].join(' ')}` : ''}`,
    `  RankingModels created by the client      ${s(tCreated)}`,
    `  all objects applied (status written)     ${s(tApplied)}`,
    `  all RankingModels Ready                  ${s(tReady)}   (goal ≤ 30 s: ${tReady <= 30_000 ? 'met' : 'NOT met'})`,
    `  writes during a no-change resync         ${resyncWrites}   (goal 0; ${resyncReconciles} reconciles in the window${resyncWrites ? `; ${resyncKinds.join(', ')}` : ''}; started once the operator's writes held still, ${quietS.toFixed(0)} s after all Ready + 2 s)`,
    `  operator writes in all                   ${allWrites} (${(allWrites / MODELS).toFixed(1)} per model; goal ≤ 10)`,
    `  reconciles                               ${reconciles} (API errors ${errors}${errors ? `: ${errorKinds}` : ''})`,
    `  operator API calls by verb               ${[...callsByVerb].map(([v, n]) => `${v} ${n}`).join(', ')}`,
    `  reconcile p50 / p99                      ${(p50 * 1000).toFixed(1)} ms / ${(p99 * 1000).toFixed(1)} ms (histogram_quantile)`,
    `  API call p50 / p99: apply                ${ms(text, 'verb="apply"')}`,
    `  API call p50 / p99: apply-status         ${ms(text, 'verb="apply-status"')}`,
    `  operator RSS                             ${(rss / 2 ** 20).toFixed(0)} MiB (goal ≤ 200 MiB at 1,000 models); V8 heap used ${(heapUsed / 2 ** 20).toFixed(0)} MiB`,
    `  operator memory                          V8 heap committed ${(heapTotal / 2 ** 20).toFixed(0)} MiB, external ${(external / 2 ** 20).toFixed(0)} MiB${rssSplit}`,
    ...(heapFile
      ? [`  heap snapshot                            ${heapFile}`, ...summarizeHeap(heapFile, 15)]
      : []),
    `  operator CPU time                        ${cpu.toFixed(1)} s`,
    ...describeWindow(window, tReady, [
      'lightrank-operator',
      'kube-controller-manager',
      'kube-scheduler',
      'kube-apiserver',
    ]),
  ];
  if (floor) {
    const f = floor.result;
    lines.push(
      `floor, side by side: the same objects applied by a plain client (${f.writes} writes), no operator, on a fresh control plane of the same size`,
      `  all objects applied                      ${s(f.applied)}`,
      `  all Deployments ready (+ routers)        ${s(f.ready)}   (goal ≤ 30 s: ${f.ready <= 30_000 ? 'met' : 'NOT met'} by the floor itself)`,
      ...describeWindow(floor.window, f.ready, ['lightrank-floor', 'kube-controller-manager']),
      `operator / floor                           ${(tReady / f.ready).toFixed(2)}× to Ready, ${(tApplied / f.applied).toFixed(2)}× to applied, ${(window.cpuTotal / floor.window.cpuTotal).toFixed(2)}× machine CPU`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (resyncWrites !== 0) exitCode = 1;
} catch (err) {
  log(String(err instanceof Error ? err.stack : err));
  // what the operator held when it gave up: its RSS now, from /proc
  const pid = operatorProcess?.child.pid;
  try {
    if (pid)
      log(
        `operator RSS at the failure: ${/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]} kB`,
      );
  } catch {
    // gone
  }
  exitCode = 1;
} finally {
  // an operator left running would retry a control plane that is gone
  if (operatorProcess && operatorProcess.child.exitCode === null) {
    operatorProcess.child.kill('SIGTERM');
    await operatorProcess.exited;
  }
  await cp.stop();
}
process.exit(exitCode);
