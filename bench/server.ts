// Benchmark of the scoring server on the reference MMoE-DCN towers, 2,000 candidates per
// request, measured side by side in one run:
//   (a) the in-process floor: the same two ONNX graphs (query tower, scoring graph) called
//       directly in a loop on one thread, batch 1 — what the hardware does with no serving;
//   (b) the server over HTTP (a real process, default settings): closed-loop saturation at
//       rising concurrency, then an open-loop sweep at fractions of the max throughput (p50/p99);
//   (c) dynamic batching on vs off at concurrency 32.
// Load comes from bench/lib/loadgen.ts (node:http keep-alive, µs timing, exact percentiles;
// see its header for accuracy limits). The generator shares this machine's cores with the server.
//
// (b) runs once per request encoding (--encoding json|binary|both, default both: JSON and the
// binary encoding of server/binary.ts against the same server, in the same run as the floor).
//
//   npm run bench:server [-- --encoding json|binary|both]     (about 2 minutes with both)
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { generateFeatures } from '../modelkit/catalogue.js';
import { openSnapshot } from '../snapshot/index.js';
import { parseArgs } from 'node:util';
import { RANK_BINARY_TYPE, encodeRankBinaryRequest } from '../server/binary.js';
import { buildScoringGraph } from '../server/lifecycle/scoring-graph.js';
import { SCORING_INPUTS } from '../modelkit/scoring-graph.js';
import { stageDemo, startServer, waitFor, type ServerProcess } from '../test/server/harness.js';
import { closedLoop, openLoop, type LoadResult } from './lib/loadgen.js';

const CANDIDATES = 2000;
const ITEMS = 20_000;
const STEP_MS = Number(process.env.BENCH_STEP_MS ?? 3000);
const ENCODING = parseArgs({ options: { encoding: { type: 'string', default: 'both' } } }).values.encoding;
if (!['json', 'binary', 'both'].includes(ENCODING!))
  throw new Error(`--encoding must be json, binary or both, got "${ENCODING}"`);
const ENCODINGS = (ENCODING === 'both' ? ['json', 'binary'] : [ENCODING!]) as Encoding[];
type Encoding = 'json' | 'binary';

const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '-');

async function floor(modelPath: string, snapshotDir: string, durationMs: number) {
  const snapshot = await openSnapshot(snapshotDir);
  const opts: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  const query = await ort.InferenceSession.create(modelPath, opts);
  const scoring = await ort.InferenceSession.create(buildScoringGraph(snapshot).slice(), opts);
  const { dense, categorical } = generateFeatures({ numDense: 16, numCategorical: 4 }, 64, 5);
  const rows = new BigInt64Array(CANDIDATES);
  for (let i = 0; i < CANDIDATES; i++) rows[i] = BigInt((i * 7919) % snapshot.rows);
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const end = performance.now() + durationMs;
  let i = 0;
  while (performance.now() < end) {
    const t0 = performance.now();
    const b = i++ % 64;
    const q = await query.run({
      dense: new ort.Tensor('float32', dense.slice(b * 16, b * 16 + 16), [1, 16]),
      categorical: new ort.Tensor('int64', categorical.slice(b * 4, b * 4 + 4), [1, 4]),
    });
    const emb = q.query!.data as Float32Array;
    await scoring.run({
      [SCORING_INPUTS.query]: new ort.Tensor('float32', emb, [1, snapshot.tasks.length, snapshot.dim]),
      [SCORING_INPUTS.rows]: new ort.Tensor('int64', rows, [1, CANDIDATES]),
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

/** 16 request bodies in the given encoding (the same queries and candidates in both). */
function bodies(ids: BigUint64Array, rows: number, encoding: Encoding): Buffer[] {
  const { dense, categorical } = generateFeatures({ numDense: 16, numCategorical: 4 }, 16, 9);
  return Array.from({ length: 16 }, (_, b) => {
    const picked = BigUint64Array.from({ length: CANDIDATES }, (_, i) => ids[(i * 7919 + b * 101) % rows]!);
    if (encoding === 'binary') {
      return encodeRankBinaryRequest(
        dense.subarray(b * 16, b * 16 + 16),
        categorical.subarray(b * 4, b * 4 + 4),
        picked,
      );
    }
    const candidates = Array.from(picked, String);
    return Buffer.from(
      JSON.stringify({
        query: {
          dense: Array.from(dense.subarray(b * 16, b * 16 + 16)),
          categorical: Array.from(categorical.subarray(b * 4, b * 4 + 4), Number),
        },
        candidates,
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

/** CPU seconds (user + system, all threads) a process has used, from /proc (10 ms ticks). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

type Measured = LoadResult & { cpuUsPerReq: number };

/** Runs a load step and charges the server process's CPU time to the requests it answered. */
async function measured(server: ServerProcess, step: () => Promise<LoadResult>): Promise<Measured> {
  const before = cpuSeconds(server.proc.pid!);
  const r = await step();
  return { ...r, cpuUsPerReq: ((cpuSeconds(server.proc.pid!) - before) * 1e6) / Math.max(1, r.ok) };
}

function row(label: string, r: Measured, offered?: number): string {
  return [
    label.padEnd(28),
    (offered !== undefined ? fmt(offered, 0) : '-').padStart(8),
    fmt(r.throughput, 0).padStart(8),
    fmt(r.p50Ms).padStart(8),
    fmt(r.p90Ms).padStart(8),
    fmt(r.p99Ms).padStart(8),
    String(r.maxInFlight).padStart(6),
    String(r.failed).padStart(6),
    fmt(r.cpuUsPerReq, 0).padStart(9),
  ].join(' ');
}

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
    say(
      `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()[0]!.toFixed(1)} at start, ` +
        `node ${process.version}, onnxruntime-node CPU EP`,
    );
    say(
      `model: reference MMoE-DCN (2 tasks, dim 64), snapshot ${ITEMS} items, ${CANDIDATES} candidates/request, ${STEP_MS} ms per step`,
    );

    const f = await floor(
      join(staged.dataDir, 'model', 'current', 'model.onnx'),
      staged.bundle.snapshotDir,
      STEP_MS,
    );
    say('');
    say('(a) in-process floor (query tower + scoring graph, batch 1, one thread)');
    say(
      `    throughput ${fmt(f.throughput, 0)} req/s   p50 ${fmt(f.p50Ms)} ms   p99 ${fmt(f.p99Ms)} ms   cpu ${fmt(f.cpuUsPerReq, 0)} µs/req`,
    );

    const header = `${'run'.padEnd(28)} ${'offered'.padStart(8)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p90 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'inflt'.padStart(6)} ${'fail'.padStart(6)} ${'cpu µs/req'.padStart(9)}`;
    const server = await start(staged.dataDir, []);
    const url = `${server.url}/v1/models/demo/rank`;
    const maxBy: Partial<Record<Encoding, number>> = {};
    const at70By: Partial<Record<Encoding, Measured>> = {};
    const closed: Record<number, Measured> = {};
    for (const encoding of ENCODINGS) {
      const load = {
        url,
        bodies: bodies(snapshot.ids, snapshot.rows, encoding),
        contentType: encoding === 'binary' ? RANK_BINARY_TYPE : 'application/json',
      };
      await closedLoop({ ...load, concurrency: 8, durationMs: 1000 }); // warm-up
      say('');
      say(
        `(b) server over HTTP, ${encoding} encoding, batching on (default: max batch 32, queue delay 0 µs, 1 worker)`,
      );
      say(header);
      let max = 0;
      for (const c of [1, 4, 16, 32]) {
        const r = await measured(server, () => closedLoop({ ...load, concurrency: c, durationMs: STEP_MS }));
        if (encoding === ENCODINGS[0]) closed[c] = r;
        max = Math.max(max, r.throughput);
        say(row(`closed loop, concurrency ${c}`, r));
      }
      for (const frac of [0.25, 0.5, 0.7, 0.9]) {
        const rate = max * frac;
        const r = await measured(server, () => openLoop({ ...load, rate, durationMs: STEP_MS }));
        if (frac === 0.7) at70By[encoding] = r;
        say(row(`open loop, ${Math.round(frac * 100)}% of max`, r, rate));
      }
      maxBy[encoding] = max;
    }
    await server.stop();

    const off = await start(staged.dataDir, ['--max-batch-size', '1']);
    const offLoad = {
      url: `${off.url}/v1/models/demo/rank`,
      bodies: bodies(snapshot.ids, snapshot.rows, ENCODINGS[0]!),
      contentType: ENCODINGS[0] === 'binary' ? RANK_BINARY_TYPE : 'application/json',
    };
    await closedLoop({ ...offLoad, concurrency: 8, durationMs: 1000 });
    const offR = await measured(off, () => closedLoop({ ...offLoad, concurrency: 32, durationMs: STEP_MS }));
    await off.stop();
    say('');
    say(`(c) dynamic batching at concurrency 32 (closed loop, ${ENCODINGS[0]} encoding)`);
    say(header);
    say(row('batching on', closed[32]!));
    say(row('batching off (max batch 1)', offR));

    const onR = closed[32]!;
    say('');
    say('goals');
    for (const encoding of ENCODINGS) {
      const at70 = at70By[encoding]!;
      const max = maxBy[encoding]!;
      say(
        `  ${encoding}: p99 ≤ 2 ms at 70% of max throughput: p99 ${fmt(at70.p99Ms)} ms → ${at70.p99Ms <= 2 ? 'met' : 'NOT met'}`,
      );
      say(
        `  ${encoding}: throughput ≥ 70% of the floor: ${fmt(max, 0)} / ${fmt(f.throughput, 0)} = ${fmt((100 * max) / f.throughput, 0)}% → ${max >= 0.7 * f.throughput ? 'met' : 'NOT met'}`,
      );
    }
    say(
      `  batching ≥ 2× at concurrency 32: ${fmt(onR.throughput / offR.throughput)}× → ${onR.throughput >= 2 * offR.throughput ? 'met' : 'NOT met'}`,
    );
  } finally {
    await Promise.all(started.map((s) => s.stop()));
    await rm(root, { recursive: true, force: true });
  }
}

await main();
