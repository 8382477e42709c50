// Benchmark of the scoring server on the reference MMoE-DCN towers, 2,000 candidates per
// request, measured side by side in one run:
//   (a) the in-process floor: the same two ONNX graphs (query tower, scoring graph) called
//       directly in a loop on one thread, batch 1 — what the hardware does with no serving;
//   (b) the server over HTTP (a real process, default settings): its max throughput (closed loop,
//       the best of concurrency 16, 32 and 64), then closed loops at concurrency 1 and 4 and an
//       open-loop sweep at fractions of that max (p50/p99; the latency goal is read at 70%);
//   (c) dynamic batching on vs off at concurrency 32, closed loop; "off" (--max-batch-size 1) is
//       measured with one worker (the default) and with two, and the better one counts;
//   (d) the limit of this machine for the binary goal: at the end of each round, the floor's
//       loop runs while the load generator drives the HTTP round trip with scoring taken out
//       (the server's own app answering recorded bytes, bench/lib/http-only.ts) at 80, 90 and
//       100% of that round's floor; what a server doing only those two would answer, as a share
//       of the floor, is printed beside the binary goal.
// The ratio goals (max / floor, JSON / binary, on / off) are measured in rounds (BENCH_ROUNDS,
// default 5) that take turns — floor, binary at c=16/32/64, JSON at c=16/32/64 (reversed every
// other round), then the "off" servers and (d) — against three servers started side by side, so
// a change in the shared machine's speed during the run hits both sides of a ratio alike; the
// median of the per-round ratios decides. The floor's sessions are warmed up once like the servers.
// Load comes from vegeta (bench/lib/vegeta.ts; built by scripts/build-vegeta.sh, exact percentiles
// computed here from every request) or, without Go or with --loadgen node, from the Node
// generator bench/lib/loadgen.ts. Either shares this machine's cores with the server; the table
// shows the server's and the generator's CPU per request (from /proc) beside the wall-clock figures.
// (b) and (c) run once per request encoding (--encoding json|binary|both, default both: JSON and
// the binary encoding of server/binary.ts, in the same run as the floor).
//
//   npm run bench:server [-- --encoding json|binary|both] [-- --loadgen vegeta|node]
//   (about 5 minutes with both encodings; BENCH_STEP_MS sets each step, default 3000)
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSnapshot } from '../snapshot/index.js';
import { parseArgs } from 'node:util';
import { RANK_BINARY_TYPE, encodeRankBinaryRequest } from '../server/binary.js';
import { stageDemo, startServer, waitFor, type ServerProcess } from '../test/server/harness.js';
import { makeFloor, workload, type FloorResult, type Work } from './lib/floor.js';
import { BESIDE_SHARES, servedBeside, sideBySide, startHttpOnly, type Beside } from './lib/http-only.js';
import { closedLoop, openLoop, type LoadResult } from './lib/loadgen.js';
import { buildVegeta, Vegeta } from './lib/vegeta.js';
import { cpuSeconds } from './lib/proc.js';

const CANDIDATES = 2000;
const ITEMS = 20_000;
const STEP_MS = Number(process.env.BENCH_STEP_MS ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
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

/** Every server started, so a failed run stops them too (and the HTTP-only one of (d)). */
const started: ServerProcess[] = [];
const stops: (() => void)[] = [];

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
  /** runs in a process of its own (the Node generator runs in this one, beside the floor) */
  ownProcess: boolean;
  aim(server: { url: string }, encoding: Encoding, bodies: Buffer[]): Promise<Load>;
}

async function loadTool(root: string): Promise<LoadTool> {
  const contentType = (e: Encoding): string => (e === 'binary' ? RANK_BINARY_TYPE : 'application/json');
  const bin = ARGS.loadgen === 'vegeta' ? buildVegeta() : undefined;
  if (bin) {
    let n = 0;
    return {
      ownProcess: true,
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
    ownProcess: false,
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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'lightrank-bench-'));
  const say = (s: string): void => console.log(s);
  try {
    const staged = await stageDemo(root, { items: ITEMS });
    const snapshot = await openSnapshot(staged.bundle.snapshotDir, { loadEmbeddings: false });
    const tool = await loadTool(root);
    say(
      `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()[0]!.toFixed(1)} at start, ` +
        `node ${process.version}, onnxruntime-node CPU EP`,
    );
    say(
      `model: reference MMoE-DCN (2 tasks, dim 64), snapshot ${ITEMS} items, ${CANDIDATES} candidates/request, ${STEP_MS} ms per step, ${ROUNDS} rounds`,
    );
    say(`load generator: ${tool.name}: ${tool.accuracy}`);

    const work = workload(snapshot.rows);
    const modelPath = join(staged.dataDir, 'model', 'current', 'model.onnx');
    const bodiesBy = Object.fromEntries(ENCODINGS.map((e) => [e, bodies(work, snapshot.ids, e)])) as Record<
      Encoding,
      Buffer[]
    >;
    // Three servers side by side: batching on (the defaults), and off with one and two workers.
    const on = await start(staged.dataDir, []);
    const off = [
      await start(staged.dataDir, ['--max-batch-size', '1', '--workers', '1']),
      await start(staged.dataDir, ['--max-batch-size', '1', '--workers', '2']),
    ];
    const loads = {} as Record<Encoding, { on: Load; off: Load[] }>;
    for (const encoding of ENCODINGS) {
      loads[encoding] = {
        on: await tool.aim(on, encoding, bodiesBy[encoding]),
        off: [
          await tool.aim(off[0]!, encoding, bodiesBy[encoding]),
          await tool.aim(off[1]!, encoding, bodiesBy[encoding]),
        ],
      };
      // warm-up: JIT, ORT's first runs of these shapes, the id index pages
      for (const l of [loads[encoding].on, ...loads[encoding].off])
        await l.closed(32, Math.max(2000, STEP_MS));
    }
    // (d): the HTTP round trip alone, answering what the real server answered; with the Node
    // generator, which would share this process's thread with the floor's loop, (d) is left out
    if (ENCODINGS.includes('binary') && !tool.ownProcess)
      say("(d) left out: the Node load generator runs on the floor loop's thread (use vegeta)");
    const httpOnly =
      ENCODINGS.includes('binary') && tool.ownProcess
        ? await startHttpOnly({
            realUrl: on.url,
            bodies: bodiesBy.binary,
            contentType: RANK_BINARY_TYPE,
            dir: join(root, 'recorded'),
          })
        : undefined;
    if (httpOnly) stops.push(httpOnly.stop);
    const httpLoad = httpOnly && (await tool.aim(httpOnly, 'binary', bodiesBy.binary));
    await httpLoad?.closed(32, Math.max(2000, STEP_MS));

    // The ratio goals, measured in rounds that take turns, so a change in the machine's speed
    // during the run hits both sides of a ratio alike; medians decide. Each ratio's two sides run
    // next to each other: binary (compared with both) sits between the floor and JSON, and the
    // order turns around every round (floor, binary, JSON; then JSON, binary, floor) so a drift
    // in the machine's speed favours neither side. The batching steps ("off", a goal kept for the
    // record) come after them.
    const floorRunner = await makeFloor(modelPath, staged.bundle.snapshotDir, work);
    await floorRunner.run(Math.max(2000, STEP_MS)); // warm-up, as the servers had
    // with the 1-minute load average after the floor's step: the floor uses one core, the server
    // two plus the generator, so other tenants' load costs the server more than the floor
    const floors: (FloorResult & { load: number })[] = [];
    const besides: Beside[][] = [];
    const rounds = {} as Record<
      Encoding,
      { max: Measured; maxAt: number; on32: Measured; off32: Measured[] }[]
    >;
    const maxSteps = async (encoding: Encoding) => {
      const l = loads[encoding];
      const c16 = await measured(on, () => l.on.closed(16, STEP_MS));
      const on32 = await measured(on, () => l.on.closed(32, STEP_MS));
      const c64 = await measured(on, () => l.on.closed(64, STEP_MS));
      const max = [c16, on32, c64].reduce((a, b) => (b.throughput > a.throughput ? b : a));
      return { max, maxAt: [16, 32, 64][[c16, on32, c64].indexOf(max)]!, on32 };
    };
    const sides: ('floor' | Encoding)[] = [
      'floor',
      ...ENCODINGS.filter((e) => e === 'binary'),
      ...ENCODINGS.filter((e) => e !== 'binary'),
    ];
    for (let r = 0; r < ROUNDS; r++) {
      const maxes = {} as Record<Encoding, Awaited<ReturnType<typeof maxSteps>>>;
      for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
        if (side === 'floor') floors.push({ ...(await floorRunner.run(STEP_MS)), load: loadavg()[0]! });
        else maxes[side] = await maxSteps(side);
      }
      for (const encoding of ENCODINGS) {
        const l = loads[encoding];
        const off32 = [
          await measured(off[0]!, () => l.off[0]!.closed(32, STEP_MS)),
          await measured(off[1]!, () => l.off[1]!.closed(32, STEP_MS)),
        ];
        (rounds[encoding] ??= []).push({ ...maxes[encoding], off32 });
      }
      if (httpOnly && httpLoad)
        besides.push(
          await sideBySide({
            floor: (ms) => floorRunner.run(ms),
            open: (rate, ms) => httpLoad.open(rate, ms),
            pid: httpOnly.pid,
            floorAlone: floors[r]!.throughput,
            shares: r % 2 === 0 ? BESIDE_SHARES : [...BESIDE_SHARES].reverse(),
            stepMs: STEP_MS,
          }),
        );
    }
    httpOnly?.stop();
    await Promise.all(off.map((s) => s.stop()));

    say('');
    say('(a) in-process floor (query tower + scoring graph, batch 1, one thread, the same 16 requests)');
    floors.forEach((f, r) =>
      say(
        `    round ${r + 1}: ${fmt(f.throughput, 0)} req/s   p50 ${fmt(f.p50Ms)} ms   p99 ${fmt(f.p99Ms)} ms   cpu ${fmt(f.cpuUsPerReq, 0)} µs/req   load average ${fmt(f.load, 1)}`,
      ),
    );
    const floorMedian = median(floors.map((f) => f.throughput));

    const maxBy = {} as Record<Encoding, number>;
    const throughputRatio = {} as Record<Encoding, number[]>;
    const batchingRatio = {} as Record<Encoding, number[]>;
    for (const encoding of ENCODINGS) {
      say('');
      say(
        `(b, c) ${encoding} encoding, closed loop, in rounds beside the floor: max (the best of c=16, 32, 64, batching on) and batching on vs off at c=32`,
      );
      say(HEADER);
      rounds[encoding].forEach((x, r) => {
        say(row(`round ${r + 1}: max (c=${x.maxAt})`, x.max));
        say(row(`round ${r + 1}: c=32 batching on`, x.on32));
        say(row(`round ${r + 1}: c=32 off, 1 worker`, x.off32[0]!));
        say(row(`round ${r + 1}: c=32 off, 2 workers`, x.off32[1]!));
      });
      throughputRatio[encoding] = rounds[encoding].map((x, r) => x.max.throughput / floors[r]!.throughput);
      batchingRatio[encoding] = rounds[encoding].map(
        (x) => x.on32.throughput / Math.max(...x.off32.map((o) => o.throughput)),
      );
      maxBy[encoding] = median(rounds[encoding].map((x) => x.max.throughput));
    }

    if (besides.length > 0) {
      say('');
      say(
        '(d) the floor beside the HTTP round trip (scoring taken out), the latter open loop at a share of the floor: what a server doing only those two answers',
      );
      besides.forEach((bs, r) =>
        bs.forEach((b) =>
          say(
            `    round ${r + 1}, ${fmt(100 * b.share, 0)}%: HTTP ${fmt(b.httpThroughput, 0)} req/s (server ${fmt(b.httpUs, 0)}, load generator ${fmt(b.loadgenUs, 0)} µs/req), ` +
              `floor beside it ${fmt(b.floorThroughput, 0)} req/s (${fmt(b.floorUs, 0)} µs/req) → ${fmt((100 * servedBeside(b)) / floors[r]!.throughput, 0)}% of the floor alone`,
          ),
        ),
      );
    }

    const at70By = {} as Record<Encoding, Measured>;
    const c1By = {} as Record<Encoding, Measured>;
    for (const encoding of ENCODINGS) {
      const load = loads[encoding].on;
      say('');
      say(
        `(b) server over HTTP, ${encoding} encoding, batching on (default: max batch 32, queue delay 0 µs, 1 worker); open-loop rates are fractions of the median max, ${fmt(maxBy[encoding], 0)} req/s`,
      );
      say(HEADER);
      for (const c of [1, 4]) {
        const r = await measured(on, () => load.closed(c, STEP_MS));
        if (c === 1) c1By[encoding] = r;
        say(row(`closed loop, concurrency ${c}`, r));
      }
      for (const frac of [0.25, 0.5, 0.7, 0.9]) {
        const rate = maxBy[encoding] * frac;
        const r = await measured(on, () => load.open(rate, STEP_MS));
        if (frac === 0.7) at70By[encoding] = r;
        say(row(`open loop, ${Math.round(frac * 100)}% of max`, r, rate));
      }
    }
    await on.stop();

    const list = (xs: number[], d: number, unit = ''): string =>
      xs.map((x) => `${fmt(x, d)}${unit}`).join(', ');
    say('');
    say(`goals (ratios per round, median decides; floor median ${fmt(floorMedian, 0)} req/s)`);
    for (const encoding of ENCODINGS) {
      const c1 = c1By[encoding];
      say(
        `  ${encoding}: p99 ≤ 3× p50 at concurrency 1: p50 ${fmt(c1.p50Ms)} ms, p99 ${fmt(c1.p99Ms)} ms → ` +
          `${fmt(c1.p99Ms / c1.p50Ms, 1)}× → ${verdict(c1.p99Ms <= 3 * c1.p50Ms)}`,
      );
    }
    if (ENCODINGS.length === 2) {
      const j = rounds.json.map((x, r) => x.max.throughput / rounds.binary[r]!.max.throughput);
      say(
        `  JSON throughput ≥ 60% of binary (max vs max, per round): ${list(
          j.map((x) => 100 * x),
          0,
          '%',
        )} → median ${fmt(100 * median(j), 0)}% → ${verdict(median(j) >= 0.6)}`,
      );
    }
    const floorGoal = (encoding: Encoding, goal: number): void => {
      const t = throughputRatio[encoding];
      say(
        `  ${encoding}: throughput ≥ ${goal * 100}% of the floor: ${list(
          t.map((x) => 100 * x),
          0,
          '%',
        )} → median ${fmt(100 * median(t), 0)}% → ${verdict(median(t) >= goal)}`,
      );
    };
    if (ENCODINGS.includes('binary')) {
      floorGoal('binary', 0.8);
      // What the CPU per request allows: the server and the load generator share the cores, so
      // no step can pass cores ÷ (server + generator CPU per request) per second.
      const cores = availableParallelism();
      const maxes = rounds.binary.map((x) => x.max);
      const perReq = maxes.map((m) => m.cpuUsPerReq + (m.generatorCpuUsPerReq ?? NaN));
      const bound = perReq.map((us) => (cores * 1e6) / us);
      const need = floors.map((f) => (cores * 1e6) / (0.8 * f.throughput));
      say(
        `    what the CPU allows: ${cores} cores ÷ (server + load generator CPU per request at max) per round: ` +
          `${list(bound, 0, ' req/s')}; max reached ${list(
            maxes.map((m, r) => (100 * m.throughput) / bound[r]!),
            0,
            '%',
          )} of it; 80% of the floor needs ≤ ${list(need, 0, ' µs')} per request, at max it was ${list(perReq, 0, ' µs')}`,
      );
      if (besides.length > 0) {
        const limit = besides.map((bs, r) => Math.max(...bs.map(servedBeside)) / floors[r]!.throughput);
        const reached = rounds.binary.map((x, r) => x.max.throughput / floors[r]!.throughput / limit[r]!);
        say(
          `    the limit measured here (d): the HTTP round trip and the floor side by side reach ${list(
            limit.map((x) => 100 * x),
            0,
            '%',
          )} of the floor alone (median ${fmt(100 * median(limit), 0)}%); the server's max reached ${list(
            reached.map((x) => 100 * x),
            0,
            '%',
          )} of that (median ${fmt(100 * median(reached), 0)}%)`,
        );
      }
    }
    say('  earlier goals, for the record:');
    if (ENCODINGS.includes('json')) floorGoal('json', 0.7);
    for (const encoding of ENCODINGS) {
      const at70 = at70By[encoding];
      say(
        `  ${encoding}: p99 ≤ 2 ms at 70% of max throughput: p99 ${fmt(at70.p99Ms)} ms` +
          (at70.sendLagP99Ms !== undefined
            ? ` (load generator's own send lag p99 ${fmt(at70.sendLagP99Ms)} ms)`
            : '') +
          ` → ${verdict(at70.p99Ms <= 2)}`,
      );
      const b = batchingRatio[encoding];
      say(
        `  ${encoding}: batching ≥ 2× at concurrency 32 (vs the better "off"): ${list(b, 2, '×')} → median ${fmt(median(b))}× → ${verdict(median(b) >= 2)}`,
      );
    }
  } finally {
    for (const stop of stops) stop();
    await Promise.all(started.map((s) => s.stop()));
    await rm(root, { recursive: true, force: true });
  }
}

await main();
