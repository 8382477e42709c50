// Benchmark of the scoring server on the reference MMoE-DCN towers, 2,000 candidates per
// request, measured side by side in one run:
//   (a) the in-process floor: the same two ONNX graphs (query tower, scoring graph) called
//       directly in a loop on one thread, batch 1 — what the hardware does with no serving;
//   (b) the server over HTTP (a real process, default settings): closed-loop saturation at
//       rising concurrency (max = the best of them), then an open-loop sweep at fractions of that
//       max (p50/p99; the latency goal is read at 70%);
//   (c) dynamic batching on vs off at concurrency 32, closed loop; "off" (--max-batch-size 1) is
//       measured with one worker (the default) and with two, and the better one counts.
// Load comes from vegeta (bench/lib/vegeta.ts; built by scripts/build-vegeta.sh, exact percentiles
// computed here from every request) or, without Go or with --loadgen node, from the Node
// generator bench/lib/loadgen.ts. Either shares this machine's cores with the server; the table
// shows the server's and the generator's CPU per request (from /proc) beside the wall-clock figures.
//
// (b) and (c) run once per request encoding (--encoding json|binary|both, default both: JSON and
// the binary encoding of server/binary.ts, in the same run as the floor).
//
//   npm run bench:server [-- --encoding json|binary|both] [-- --loadgen vegeta|node]
//   (about 3 minutes with both encodings; BENCH_STEP_MS sets each step, default 3000)
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { generateFeatures } from '../modelkit/catalogue.js';
import { openSnapshot } from '../snapshot/index.js';
import { parseArgs } from 'node:util';
import { RANK_BINARY_TYPE, encodeRankBinaryRequest } from '../server/binary.js';
import { scoringGraphOverFile } from '../server/lifecycle/scoring-graph.js';
import { SCORING_INPUTS } from '../modelkit/scoring-graph.js';
import { stageDemo, startServer, waitFor, type ServerProcess } from '../test/server/harness.js';
import { closedLoop, openLoop, type LoadResult } from './lib/loadgen.js';
import { buildVegeta, Vegeta } from './lib/vegeta.js';
import { cpuSeconds } from './lib/proc.js';

const CANDIDATES = 2000;
const ITEMS = 20_000;
const STEP_MS = Number(process.env.BENCH_STEP_MS ?? 3000);
const ARGS = parseArgs({
  options: { encoding: { type: 'string', default: 'both' }, loadgen: { type: 'string', default: 'vegeta' } },
}).values;
const ENCODING = ARGS.encoding;
if (!['json', 'binary', 'both'].includes(ENCODING!))
  throw new Error(`--encoding must be json, binary or both, got "${ENCODING}"`);
if (!['vegeta', 'node'].includes(ARGS.loadgen!))
  throw new Error(`--loadgen must be vegeta or node, got "${ARGS.loadgen}"`);
const ENCODINGS = (ENCODING === 'both' ? ['json', 'binary'] : [ENCODING!]) as Encoding[];
type Encoding = 'json' | 'binary';

const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '-');

/**
 * The 16 requests every part of the benchmark sends, round-robin: query features and 2,000
 * candidate rows of the snapshot each (different rows per request, as real traffic would be, so
 * the floor's gathers are no more cache-friendly than the server's).
 */
interface Work {
  dense: Float32Array;
  categorical: BigInt64Array;
  rows: Int32Array;
}

function workload(snapshotRows: number): Work[] {
  const { dense, categorical } = generateFeatures({ numDense: 16, numCategorical: 4 }, 16, 9);
  return Array.from({ length: 16 }, (_, b) => ({
    dense: dense.slice(b * 16, b * 16 + 16),
    categorical: categorical.slice(b * 4, b * 4 + 4),
    rows: Int32Array.from({ length: CANDIDATES }, (_, i) => (i * 7919 + b * 101) % snapshotRows),
  }));
}

async function floor(modelPath: string, snapshotDir: string, work: Work[], durationMs: number) {
  const snapshot = await openSnapshot(snapshotDir);
  const opts: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  const query = await ort.InferenceSession.create(modelPath, opts);
  // the server's own scoring graph: the snapshot's embeddings.bin mapped as external data
  const graph = scoringGraphOverFile(snapshotDir, snapshot.manifest);
  const scoring = await ort.InferenceSession.create(graph.bytes, {
    ...opts,
    extra: { session: { model_external_initializers_file_folder_path: graph.externalDataDir } },
  });
  const rows = work.map((w) => BigInt64Array.from(w.rows, BigInt));
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const end = performance.now() + durationMs;
  let i = 0;
  while (performance.now() < end) {
    const t0 = performance.now();
    const b = i++ % work.length;
    const q = await query.run({
      dense: new ort.Tensor('float32', work[b]!.dense, [1, 16]),
      categorical: new ort.Tensor('int64', work[b]!.categorical, [1, 4]),
    });
    const emb = q.query!.data as Float32Array;
    await scoring.run({
      [SCORING_INPUTS.query]: new ort.Tensor('float32', emb, [1, snapshot.tasks.length, snapshot.dim]),
      [SCORING_INPUTS.rows]: new ort.Tensor('int64', rows[b]!, [1, CANDIDATES]),
    });
    lat.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuUsPerReq = (cpu.user + cpu.system) / lat.length;
  lat.sort((a, b) => a - b);
  return {
    cpuUsPerReq,
    throughput: lat.length / (durationMs / 1000),
    p50Ms: lat[Math.floor(lat.length / 2)]!,
    p99Ms: lat[Math.floor(lat.length * 0.99)]!,
  };
}

/** The workload as request bodies in the given encoding. */
function bodies(work: Work[], ids: BigUint64Array, encoding: Encoding): Buffer[] {
  return work.map((w) => {
    const picked = BigUint64Array.from(w.rows, (r) => ids[r]!);
    if (encoding === 'binary') return encodeRankBinaryRequest(w.dense, w.categorical, picked);
    return Buffer.from(
      JSON.stringify({
        query: { dense: Array.from(w.dense), categorical: Array.from(w.categorical, Number) },
        candidates: Array.from(picked, String),
      }),
    );
  });
}

/** Every server started, so a failed run stops them too. */
const started: ServerProcess[] = [];

async function start(dataDir: string, extra: string[]): Promise<ServerProcess> {
  const s = await startServer(['--data-dir', dataDir, ...extra]);
  started.push(s);
  await waitFor(async () => (await s.get('/v2/health/ready')).status === 200, 60_000, 'server ready');
  return s;
}

type Step = LoadResult & { sendLagP99Ms?: number; generatorCpuUsPerReq?: number };
type Measured = Step & { cpuUsPerReq: number };

/** One load generator aimed at one server and encoding. */
interface Load {
  closed(concurrency: number, durationMs: number): Promise<Step>;
  open(rate: number, durationMs: number): Promise<Step>;
}

/** The tool used for (b) and (c): vegeta when it can be built here, else the Node generator. */
interface LoadTool {
  name: string;
  accuracy: string;
  aim(server: ServerProcess, encoding: Encoding, bodies: Buffer[]): Promise<Load>;
}

async function loadTool(root: string): Promise<LoadTool> {
  const contentType = (e: Encoding): string => (e === 'binary' ? RANK_BINARY_TYPE : 'application/json');
  const bin = ARGS.loadgen === 'vegeta' ? buildVegeta() : undefined;
  if (bin) {
    let n = 0;
    return {
      name: `vegeta ${execFileSync(bin, ['-version'], { encoding: 'utf8' }).split('\n')[0]!.replace('Version: ', '')} (Go)`,
      accuracy:
        'ns timing per request; exact percentiles computed here over every request (vegeta report would use an approximate t-digest); shares the cores with the server',
      aim: async (server, encoding, bodies) => {
        const dir = join(root, `vegeta-${n++}`);
        await mkdir(dir);
        const v = new Vegeta(bin, dir, {
          url: `${server.url}/v1/models/demo/rank`,
          bodies,
          contentType: contentType(encoding),
        });
        return {
          closed: (concurrency, durationMs) => v.closedLoop({ concurrency, durationMs }),
          open: (rate, durationMs) => v.openLoop({ rate, durationMs }),
        };
      },
    };
  }
  return {
    name: 'bench/lib/loadgen.ts (node:http)',
    accuracy:
      'µs timing, exact percentiles; its open loop polls with setImmediate between sends (far more CPU per request than vegeta) and timers are 1 ms coarse; late sends are charged to the server',
    aim: async (server, encoding, bodies) => {
      const target = { url: `${server.url}/v1/models/demo/rank`, bodies, contentType: contentType(encoding) };
      // the generator runs in this process: its CPU per request is this process's over the step
      const withCpu = async (step: () => Promise<LoadResult>): Promise<Step> => {
        const cpu0 = process.cpuUsage();
        const r = await step();
        const cpu = process.cpuUsage(cpu0);
        return { ...r, generatorCpuUsPerReq: (cpu.user + cpu.system) / Math.max(1, r.sent) };
      };
      return {
        closed: (concurrency, durationMs) =>
          withCpu(() => closedLoop({ ...target, concurrency, durationMs })),
        open: (rate, durationMs) => withCpu(() => openLoop({ ...target, rate, durationMs })),
      };
    },
  };
}

/** Runs a load step and charges the server process's CPU time to the requests it answered. */
async function measured(server: ServerProcess, step: () => Promise<Step>): Promise<Measured> {
  const before = cpuSeconds(server.proc.pid!);
  const r = await step();
  return { ...r, cpuUsPerReq: ((cpuSeconds(server.proc.pid!) - before) * 1e6) / Math.max(1, r.ok) };
}

const HEADER = [
  'run'.padEnd(32),
  'offered'.padStart(8),
  'req/s'.padStart(8),
  'p50 ms'.padStart(7),
  'p90 ms'.padStart(7),
  'p99 ms'.padStart(7),
  'inflt'.padStart(5),
  'fail'.padStart(5),
  'server µs/req'.padStart(13),
  'loadgen µs/req'.padStart(14),
  'lag p99'.padStart(7),
].join(' ');

function row(label: string, r: Measured, offered?: number): string {
  return [
    label.padEnd(32),
    (offered !== undefined ? fmt(offered, 0) : '-').padStart(8),
    fmt(r.throughput, 0).padStart(8),
    fmt(r.p50Ms).padStart(7),
    fmt(r.p90Ms).padStart(7),
    fmt(r.p99Ms).padStart(7),
    String(r.maxInFlight).padStart(5),
    String(r.failed).padStart(5),
    fmt(r.cpuUsPerReq, 0).padStart(13),
    fmt(r.generatorCpuUsPerReq ?? NaN, 0).padStart(14),
    fmt(r.sendLagP99Ms ?? NaN).padStart(7),
  ].join(' ');
}

const verdict = (met: boolean): string => (met ? 'met' : 'NOT met');

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'lightrank-bench-'));
  const lines: string[] = [];
  const say = (s: string): void => {
    lines.push(s);
    console.log(s);
  };
  try {
    const staged = await stageDemo(root, { items: ITEMS });
    const snapshot = await openSnapshot(staged.bundle.snapshotDir, { loadEmbeddings: false });
    const tool = await loadTool(root);
    say(
      `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()[0]!.toFixed(1)} at start, ` +
        `node ${process.version}, onnxruntime-node CPU EP`,
    );
    say(
      `model: reference MMoE-DCN (2 tasks, dim 64), snapshot ${ITEMS} items, ${CANDIDATES} candidates/request, ${STEP_MS} ms per step`,
    );
    say(`load generator: ${tool.name}: ${tool.accuracy}`);

    const work = workload(snapshot.rows);
    const f = await floor(
      join(staged.dataDir, 'model', 'current', 'model.onnx'),
      staged.bundle.snapshotDir,
      work,
      STEP_MS,
    );
    say('');
    say('(a) in-process floor (query tower + scoring graph, batch 1, one thread, the same 16 requests)');
    say(
      `    throughput ${fmt(f.throughput, 0)} req/s   p50 ${fmt(f.p50Ms)} ms   p99 ${fmt(f.p99Ms)} ms   cpu ${fmt(f.cpuUsPerReq, 0)} µs/req`,
    );

    const bodiesBy = Object.fromEntries(ENCODINGS.map((e) => [e, bodies(work, snapshot.ids, e)])) as Record<
      Encoding,
      Buffer[]
    >;
    const server = await start(staged.dataDir, []);
    const maxBy: Partial<Record<Encoding, number>> = {};
    const at70By: Partial<Record<Encoding, Measured>> = {};
    const onBy: Partial<Record<Encoding, Measured>> = {};
    for (const encoding of ENCODINGS) {
      const load = await tool.aim(server, encoding, bodiesBy[encoding]);
      await load.closed(8, 1000); // warm-up
      say('');
      say(
        `(b) server over HTTP, ${encoding} encoding, batching on (default: max batch 32, queue delay 0 µs, 1 worker)`,
      );
      say(HEADER);
      let max = 0;
      for (const c of [1, 4, 16, 32, 64]) {
        const r = await measured(server, () => load.closed(c, STEP_MS));
        if (c === 32) onBy[encoding] = r;
        max = Math.max(max, r.throughput);
        say(row(`closed loop, concurrency ${c}`, r));
      }
      for (const frac of [0.25, 0.5, 0.7, 0.9]) {
        const rate = max * frac;
        const r = await measured(server, () => load.open(rate, STEP_MS));
        if (frac === 0.7) at70By[encoding] = r;
        say(row(`open loop, ${Math.round(frac * 100)}% of max`, r, rate));
      }
      maxBy[encoding] = max;
    }
    await server.stop();

    const offBy: Partial<Record<Encoding, Measured>> = {};
    const offRows: Partial<Record<Encoding, string[]>> = {};
    for (const workers of [1, 2]) {
      const off = await start(staged.dataDir, ['--max-batch-size', '1', '--workers', String(workers)]);
      for (const encoding of ENCODINGS) {
        const load = await tool.aim(off, encoding, bodiesBy[encoding]);
        await load.closed(8, 1000); // warm-up
        const r = await measured(off, () => load.closed(32, STEP_MS));
        (offRows[encoding] ??= []).push(row(`batching off, ${workers} worker${workers > 1 ? 's' : ''}`, r));
        if (!offBy[encoding] || r.throughput > offBy[encoding].throughput) offBy[encoding] = r;
      }
      await off.stop();
    }
    for (const encoding of ENCODINGS) {
      say('');
      say(`(c) dynamic batching at concurrency 32 (closed loop, ${encoding} encoding)`);
      say(HEADER);
      say(row('batching on (default, 1 worker)', onBy[encoding]!));
      for (const line of offRows[encoding]!) say(line);
    }

    say('');
    say('goals');
    for (const encoding of ENCODINGS) {
      const at70 = at70By[encoding]!;
      const max = maxBy[encoding]!;
      const on = onBy[encoding]!;
      const off = offBy[encoding]!;
      say(
        `  ${encoding}: p99 ≤ 2 ms at 70% of max throughput: p99 ${fmt(at70.p99Ms)} ms` +
          (at70.sendLagP99Ms !== undefined
            ? ` (load generator's own send lag p99 ${fmt(at70.sendLagP99Ms)} ms)`
            : '') +
          ` → ${verdict(at70.p99Ms <= 2)}`,
      );
      say(
        `  ${encoding}: throughput ≥ 70% of the floor: ${fmt(max, 0)} / ${fmt(f.throughput, 0)} = ${fmt((100 * max) / f.throughput, 0)}% → ${verdict(max >= 0.7 * f.throughput)}`,
      );
      say(
        `  ${encoding}: batching ≥ 2× at concurrency 32: ${fmt(on.throughput, 0)} / ${fmt(off.throughput, 0)} (best off) = ${fmt(on.throughput / off.throughput)}× → ${verdict(on.throughput >= 2 * off.throughput)}`,
      );
    }
  } finally {
    await Promise.all(started.map((s) => s.stop()));
    await rm(root, { recursive: true, force: true });
  }
}

await main();
