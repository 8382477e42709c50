// A/B of two checkouts of the scoring server, side by side on the same data and the same
// load, taking turns (A B B A per round) so the shared machine's changing speed hits both
// alike: closed-loop throughput and server CPU per request (from /proc) at one concurrency,
// and the latency percentiles at concurrency 1. For "did this change cost anything" on a
// machine too noisy for absolute numbers.
//
//   npx tsx bench/server-ab.ts --b /path/to/other/checkout [--a .] [--encoding json|binary]
//     [--concurrency 32] [--rounds 4] [--step-ms 3000] [--a-args="--flag v"] [--b-args="..."] [--b-first]
//     [--a-node-args="--single-threaded-gc"] [--b-node-args="..."]  (node flags for that server)
// The start order biases the result here (see --b-first below): run it both ways.
// A checkout needs its own node_modules (a symlink to this one's does).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openSnapshot } from '../snapshot/index.js';
import { stageDemo, waitFor } from '../test/server/harness.js';
import { cpuSeconds } from './lib/proc.js';
import { rankBodies } from './lib/rank-bodies.js';
import { buildVegeta, Vegeta } from './lib/vegeta.js';

const { values: A } = parseArgs({
  options: {
    a: { type: 'string', default: '.' },
    b: { type: 'string' },
    encoding: { type: 'string', default: 'binary' },
    concurrency: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '4' },
    'step-ms': { type: 'string', default: '3000' },
    'a-args': { type: 'string', default: '' },
    'b-args': { type: 'string', default: '' },
    'a-node-args': { type: 'string', default: '' },
    'b-node-args': { type: 'string', default: '' },
    'b-first': { type: 'boolean', default: false },
  },
});
if (!A.b) throw new Error('--b <checkout> is required');
const STEP = Number(A['step-ms']);
const C = Number(A.concurrency);
const ROUNDS = Number(A.rounds);
const CANDIDATES = 2000;

interface Proc {
  name: string;
  child: ChildProcess;
  url: string;
}

async function start(
  name: string,
  repo: string,
  dataDir: string,
  extra: string,
  nodeArgs: string,
): Promise<Proc> {
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs.split(' ').filter(Boolean),
      '--import',
      'tsx',
      join(repo, 'server', 'main.ts'),
      '--data-dir',
      dataDir,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      ...extra.split(' ').filter(Boolean),
    ],
    { cwd: repo, env: { ...process.env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((ok, fail) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      for (const line of buf.split('\n')) {
        if (!line.includes('"msg":"listening"')) continue;
        try {
          ok((JSON.parse(line) as { port: number }).port);
        } catch {
          // not the whole line yet
        }
      }
    });
    child.on('exit', (code) => fail(new Error(`${name} exited ${code}`)));
  });
  child.stdout!.resume();
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 60_000, `${name} ready`);
  return { name, child, url };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'lightrank-ab-'));
  const procs: Proc[] = [];
  try {
    const bin = buildVegeta();
    if (!bin) throw new Error('vegeta is needed (scripts/build-vegeta.sh)');
    const staged = await stageDemo(root, { items: 20_000 });
    const snapshot = await openSnapshot(staged.bundle.snapshotDir, { loadEmbeddings: false });
    const { bodies, contentType } = rankBodies(snapshot.ids, CANDIDATES, A.encoding);
    // Start order matters on this machine (an A/A run, the same checkout twice, gave the second
    // one 1.29× the throughput): run each comparison both ways (--b-first) and read both.
    const startA = () => start('A', resolve(A.a!), staged.dataDir, A['a-args']!, A['a-node-args']!);
    const startB = () => start('B', resolve(A.b!), staged.dataDir, A['b-args']!, A['b-node-args']!);
    let a: Proc;
    let b: Proc;
    if (A['b-first']) {
      b = await startB();
      a = await startA();
    } else {
      a = await startA();
      b = await startB();
    }
    procs.push(a, b);
    const loads = await Promise.all(
      [a, b].map(async (p) => {
        const dir = join(root, `v-${p.name}`);
        await mkdir(dir);
        return new Vegeta(bin, dir, { url: `${p.url}/v1/models/demo/rank`, bodies, contentType });
      }),
    );
    console.log(
      `A = ${A['a-node-args']} ${resolve(A.a!)} ${A['a-args']}\nB = ${A['b-node-args']} ${resolve(A.b!)} ${A['b-args']}\n${A.encoding}, closed loop c=${C}, ${STEP} ms steps, ${ROUNDS} rounds (A B B A), load average ${loadavg()[0]!.toFixed(1)}`,
    );
    for (const l of loads) await l.closedLoop({ concurrency: C, durationMs: 2000 }); // warm-up
    const run = async (i: 0 | 1, c: number) => {
      const before = cpuSeconds(procs[i]!.child.pid!);
      const r = await loads[i]!.closedLoop({ concurrency: c, durationMs: STEP });
      return { ...r, cpuUs: ((cpuSeconds(procs[i]!.child.pid!) - before) * 1e6) / Math.max(1, r.ok) };
    };
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    const lat: { p50: number[]; p99: number[] }[] = [
      { p50: [], p99: [] },
      { p50: [], p99: [] },
    ];
    for (let r = 0; r < ROUNDS; r++) {
      const ra1 = await run(0, C);
      const rb1 = await run(1, C);
      const rb2 = await run(1, C);
      const ra2 = await run(0, C);
      const ta = (ra1.throughput + ra2.throughput) / 2;
      const tb = (rb1.throughput + rb2.throughput) / 2;
      const ca = (ra1.cpuUs + ra2.cpuUs) / 2;
      const cb = (rb1.cpuUs + rb2.cpuUs) / 2;
      ratios.push(tb / ta);
      cpuRatios.push(cb / ca);
      for (const i of [0, 1] as const) {
        const one = await run(i, 1);
        lat[i]!.p50.push(one.p50Ms);
        lat[i]!.p99.push(one.p99Ms);
      }
      console.log(
        `round ${r + 1}: A ${ta.toFixed(0)} req/s ${ca.toFixed(0)} µs CPU/req | B ${tb.toFixed(0)} req/s ${cb.toFixed(0)} µs | ` +
          `B/A ${(tb / ta).toFixed(3)}× throughput, ${(cb / ca).toFixed(3)}× CPU | c=1 p50/p99 A ${lat[0]!.p50.at(-1)!.toFixed(2)}/${lat[0]!.p99.at(-1)!.toFixed(2)} ms, ` +
          `B ${lat[1]!.p50.at(-1)!.toFixed(2)}/${lat[1]!.p99.at(-1)!.toFixed(2)} ms`,
      );
    }
    console.log(
      `median B/A: throughput ${median(ratios).toFixed(3)}×, CPU per request ${median(cpuRatios).toFixed(3)}×; ` +
        `c=1 median p50/p99: A ${median(lat[0]!.p50).toFixed(2)}/${median(lat[0]!.p99).toFixed(2)} ms, B ${median(lat[1]!.p50).toFixed(2)}/${median(lat[1]!.p99).toFixed(2)} ms`,
    );
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await rm(root, { recursive: true, force: true });
  }
}

await main();
