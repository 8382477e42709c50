// What this machine allows the scoring server, measured: the in-process floor (bench/lib/floor.ts:
// the two ONNX graphs at batch 1 on one thread), the HTTP round trip alone (the server's own
// Fastify app with scoring taken out, answering the bytes the real server answered:
// bench/lib/http-only-server.ts), and the real server, each driven by vegeta in a closed loop at
// the same concurrency, in rounds that take turns (the order turns around every round). Per step:
// throughput, CPU per request of the server process (the real server's split into its HTTP thread
// and the rest, i.e. the inference worker) and of the load generator.
//
// The bound it prints: on two cores every request costs the HTTP round trip (server + load
// generator CPU, measured with scoring removed) plus the scoring work (the floor's CPU per
// request), so no server can answer more than 2 cores ÷ (HTTP + generator + floor) per second
// here, whatever its code; that bound is set against the floor's throughput (one thread, no HTTP)
// as the benchmark's goals are.
//
// That sum assumes the two halves cost on shared cores what they cost alone; they do not (the
// threads preempt each other and sweep each other's caches). So each round also runs them side
// by side: the floor's loop and, at the same time, the HTTP-only server driven open loop at a
// share (80, 90, 100%) of that round's floor throughput. A server whose only work is the HTTP
// round trip and the floor's scoring, on a thread each, answers at most min(HTTP-only rate,
// floor rate beside it) there; the best share is what such a server reaches on this machine, the
// tighter limit set beside the real server's share.
//
//   npx tsx bench/server-limit.ts [--encoding binary|json|both] [--rounds 3] [--concurrency 32]
//     [--step-ms 3000]
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSnapshot } from '../snapshot/index.js';
import { stageDemo, startServer, waitFor, type ServerProcess } from '../test/server/harness.js';
import { CANDIDATES, makeFloor, workload } from './lib/floor.js';
import { BESIDE_SHARES, servedBeside, sideBySide, startHttpOnly, type Beside } from './lib/http-only.js';
import { cpuSeconds, statCpuSeconds } from './lib/proc.js';
import { rankBodies } from './lib/rank-bodies.js';
import { buildVegeta, Vegeta } from './lib/vegeta.js';

const ARGS = parseArgs({
  options: {
    encoding: { type: 'string', default: 'binary' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    'step-ms': { type: 'string', default: '3000' },
  },
}).values;
const ENCODINGS = ARGS.encoding === 'both' ? ['binary', 'json'] : [ARGS.encoding!];
for (const e of ENCODINGS)
  if (e !== 'binary' && e !== 'json') throw new Error(`--encoding must be binary, json or both, got "${e}"`);
const ROUNDS = Number(ARGS.rounds);
const C = Number(ARGS.concurrency);
const STEP = Number(ARGS['step-ms']);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CPU seconds of the thread named "node" that the process started with (its main thread). */
function mainThreadCpu(pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
}

/** All threads but the main one: the inference worker(s) and V8/libuv helpers. */
function otherThreadsCpu(pid: number): number {
  let s = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (Number(tid) === pid) continue;
    try {
      s += statCpuSeconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
    } catch {
      // the thread ended
    }
  }
  return s;
}

interface Row {
  throughput: number;
  serverUs: number;
  mainUs?: number;
  otherUs?: number;
  loadgenUs: number;
  load: number;
}

async function main(): Promise<void> {
  const bin = buildVegeta();
  if (!bin) throw new Error('vegeta is needed (scripts/build-vegeta.sh)');
  const root = await mkdtemp(join(tmpdir(), 'lightrank-limit-'));
  const stops: (() => void)[] = [];
  const servers: ServerProcess[] = [];
  try {
    const staged = await stageDemo(root, { items: 20_000 });
    const snapshot = await openSnapshot(staged.bundle.snapshotDir, { loadEmbeddings: false });
    const floor = await makeFloor(
      join(staged.dataDir, 'model', 'current', 'model.onnx'),
      staged.bundle.snapshotDir,
      workload(snapshot.ids.length),
    );
    await floor.run(2000); // warm-up, as the servers get
    const real = await startServer(['--data-dir', staged.dataDir]);
    servers.push(real);
    await waitFor(async () => (await real.get('/v2/health/ready')).status === 200, 60_000, 'server ready');
    console.log(
      `load average ${loadavg()[0]!.toFixed(1)} at start; ${CANDIDATES} candidates, 20,000 items, closed loop c=${C}, ${STEP} ms steps, ${ROUNDS} rounds`,
    );

    for (const encoding of ENCODINGS) {
      const { bodies, contentType } = rankBodies(snapshot.ids, CANDIDATES, encoding);
      // the HTTP-only server answers the real server's recorded answers
      const httpOnly = await startHttpOnly({
        realUrl: real.url,
        bodies,
        contentType,
        dir: join(root, `recorded-${encoding}`),
      });
      stops.push(httpOnly.stop);
      const aim = async (url: string, name: string): Promise<Vegeta> => {
        const dir = join(root, `v-${encoding}-${name}`);
        await mkdir(dir);
        return new Vegeta(bin, dir, { url: `${url}/v1/models/demo/rank`, bodies, contentType });
      };
      const loads = { real: await aim(real.url, 'real'), http: await aim(httpOnly.url, 'http') };
      for (const l of Object.values(loads)) await l.closedLoop({ concurrency: C, durationMs: 2000 }); // warm-up

      const measure = async (side: 'real' | 'http'): Promise<Row> => {
        const pid = side === 'real' ? real.proc.pid! : httpOnly.pid;
        const m0 = mainThreadCpu(pid);
        const o0 = otherThreadsCpu(pid);
        const all0 = cpuSeconds(pid);
        const r = await loads[side].closedLoop({ concurrency: C, durationMs: STEP });
        const n = Math.max(1, r.ok);
        const per = (s: number): number => (s * 1e6) / n;
        return {
          throughput: r.throughput,
          serverUs: per(cpuSeconds(pid) - all0),
          ...(side === 'real'
            ? { mainUs: per(mainThreadCpu(pid) - m0), otherUs: per(otherThreadsCpu(pid) - o0) }
            : {}),
          loadgenUs: r.generatorCpuUsPerReq,
          load: loadavg()[0]!,
        };
      };
      const rows: { floor: Row; http: Row; real: Row; beside: Beside[] }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const order = (['floor', 'http', 'real'] as const).slice();
        if (round % 2) order.reverse();
        const row = { beside: [] } as unknown as { floor: Row; http: Row; real: Row; beside: Beside[] };
        for (const side of order) {
          if (side === 'floor') {
            const f = await floor.run(STEP);
            row.floor = {
              throughput: f.throughput,
              serverUs: f.cpuUsPerReq,
              loadgenUs: 0,
              load: loadavg()[0]!,
            };
          } else {
            row[side] = await measure(side);
          }
        }
        row.beside = await sideBySide({
          floor: (ms) => floor.run(ms),
          open: (rate, durationMs) => loads.http.openLoop({ rate, durationMs }),
          pid: httpOnly.pid,
          floorAlone: row.floor.throughput,
          shares: round % 2 ? [...BESIDE_SHARES].reverse() : BESIDE_SHARES,
          stepMs: STEP,
        });
        rows.push(row);
      }
      httpOnly.stop();

      const fmt = (r: Row): string =>
        `${r.throughput.toFixed(0).padStart(6)} req/s  server ${r.serverUs.toFixed(0).padStart(4)} µs/req` +
        (r.mainUs !== undefined
          ? ` (HTTP thread ${r.mainUs.toFixed(0)}, other threads ${r.otherUs!.toFixed(0)})`
          : '') +
        `  load generator ${r.loadgenUs.toFixed(0).padStart(3)} µs/req  load average ${r.load.toFixed(1)}`;
      console.log(`\n${encoding}:`);
      rows.forEach((r, i) => {
        console.log(`  round ${i + 1} floor (one thread, no HTTP)   ${fmt(r.floor)}`);
        console.log(`  round ${i + 1} HTTP only (scoring removed)   ${fmt(r.http)}`);
        console.log(`  round ${i + 1} real server                  ${fmt(r.real)}`);
        for (const b of r.beside)
          console.log(
            `  round ${i + 1} side by side at ${(b.share * 100).toFixed(0)}% of the floor: HTTP only ${b.httpThroughput.toFixed(0).padStart(5)} req/s ` +
              `(server ${b.httpUs.toFixed(0)} µs/req, load generator ${b.loadgenUs.toFixed(0)} µs/req), ` +
              `floor beside it ${b.floorThroughput.toFixed(0).padStart(5)} req/s (${b.floorUs.toFixed(0)} µs/req) → ` +
              `both ${((servedBeside(b) / r.floor.throughput) * 100).toFixed(0)}% of the floor alone`,
          );
      });
      const bound = rows.map((r) => 2e6 / (r.http.serverUs + r.http.loadgenUs + r.floor.serverUs));
      const boundShare = rows.map((r, i) => bound[i]! / r.floor.throughput);
      const httpShare = rows.map((r) => r.http.throughput / r.floor.throughput);
      const realShare = rows.map((r) => r.real.throughput / r.floor.throughput);
      const pct = (xs: number[]): string =>
        `${xs.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')} → median ${(median(xs) * 100).toFixed(0)}%`;
      console.log(`  HTTP only ÷ floor throughput: ${pct(httpShare)}`);
      console.log(
        `  bound on 2 cores, 2 cores ÷ (HTTP only server + generator + floor CPU per request) ÷ floor: ${pct(boundShare)}`,
      );
      const besideShare = rows.map((r) => Math.max(...r.beside.map(servedBeside)) / r.floor.throughput);
      console.log(
        `  HTTP round trip and floor side by side (the best share), ÷ floor alone: ${pct(besideShare)}`,
      );
      console.log(`  real server ÷ floor: ${pct(realShare)}`);
      console.log(
        `  real server's CPU per request beyond the floor's and the HTTP round trip's (lookup, batching, encoding, worker messages, the worker's extra ORT time): ` +
          `${rows.map((r) => (r.real.serverUs - r.http.serverUs - r.floor.serverUs).toFixed(0)).join(', ')} µs`,
      );
    }
  } finally {
    for (const stop of stops) stop();
    for (const s of servers) await s.stop();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
