// Where the scoring server's threads spend their time under the benchmark's load: the server
// (bench/server.ts's defaults, 20,000 items, 2,000 candidates per request) started with V8's
// CPU profiler (`--cpu-prof`, one profile per thread), driven by vegeta in a closed loop for each
// encoding in turn, then stopped; each thread's profile is summed by function (self time) and by
// package/file, printed as µs per request over the measured step (the warm-up before it is left
// out), beside each thread's CPU per request from /proc. The profiler samples wall time: a
// thread preempted on two shared cores still collects samples, so the profile says where a
// thread's time goes and /proc says how much CPU it really used.
//
//   npx tsx bench/server-profile.ts [--encoding json|binary|both] [--concurrency 32] [--seconds 6]
//     [--keep DIR]   (keep the .cpuprofile files there, e.g. for Chrome DevTools)
//     [--node-args="--max-semi-space-size=32"]  (node flags for the server)
//     [--no-profile] (only the CPU per thread: the profiler itself costs the threads some time)
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSnapshot } from '../snapshot/index.js';
import { stageDemo, startServer, waitFor } from '../test/server/harness.js';
import { statCpuSeconds } from './lib/proc.js';
import { rankBodies } from './lib/rank-bodies.js';
import { buildVegeta, Vegeta } from './lib/vegeta.js';

/** CPU seconds (user + system) of each thread of `pid`, by "tid name". */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out.set(`${tid} ${name}`, statCpuSeconds(stat));
    } catch {
      // the thread ended
    }
  }
  return out;
}

const ARGS = parseArgs({
  options: {
    encoding: { type: 'string', default: 'both' },
    concurrency: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '6' },
    keep: { type: 'string' },
    'node-args': { type: 'string', default: '' },
    'no-profile': { type: 'boolean', default: false },
  },
}).values;
const ENCODINGS = ARGS.encoding === 'both' ? ['json', 'binary'] : [ARGS.encoding!];
const CANDIDATES = 2000;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function and per file/package, in µs, of one profile. */
function summarize(
  p: CpuProfile,
  fromUs: number,
  toUs: number,
): { total: number; byFn: Map<string, number>; byFile: Map<string, number> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // only the samples inside the measured step (V8's timestamps and process.hrtime are both
  // CLOCK_MONOTONIC in µs on Linux)
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    if (t < fromUs || t > toUs) continue;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  }
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const file = f.url.replace(/^file:\/\//, '').replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, 'pkg:$1');
    const short = file.replace(/^.*\/(server|lib|snapshot)\//, '$1/');
    const fn = `${f.functionName || '(anonymous)'} ${short}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    if (f.functionName === '(idle)' || f.functionName === '(program)') {
      byFn.set(fn, (byFn.get(fn) ?? 0) + us);
      continue;
    }
    total += us;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    byFile.set(short || f.functionName, (byFile.get(short || f.functionName) ?? 0) + us);
  }
  return { total, byFn, byFile };
}

const top = (m: Map<string, number>, n: number, per: number): string[] =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `    ${(v / per).toFixed(1).padStart(8)} µs  ${k}`);

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'lightrank-profile-'));
  try {
    const staged = await stageDemo(root, { items: 20_000 });
    const snapshot = await openSnapshot(staged.bundle.snapshotDir, { loadEmbeddings: false });
    const bin = buildVegeta();
    if (!bin) throw new Error('vegeta is needed (scripts/build-vegeta.sh)');
    for (const encoding of ENCODINGS) {
      const profDir = ARGS.keep ? join(ARGS.keep, encoding) : join(root, `prof-${encoding}`);
      await mkdir(profDir, { recursive: true });
      const server = await startServer(['--data-dir', staged.dataDir], {}, [
        ...(ARGS['no-profile'] ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`]),
        ...ARGS['node-args']!.split(' ').filter(Boolean),
      ]);
      await waitFor(async () => (await server.get('/v2/health/ready')).status === 200, 60_000, 'ready');
      const { bodies, contentType } = rankBodies(snapshot.ids, CANDIDATES, encoding);
      const dir = join(root, `vegeta-${encoding}`);
      await mkdir(dir);
      const v = new Vegeta(bin, dir, {
        url: `${server.url}/v1/models/demo/rank`,
        bodies,
        contentType,
      });
      await v.closedLoop({ concurrency: Number(ARGS.concurrency), durationMs: 2000 }); // warm-up
      // with --node-args=--trace-gc: the server's GC lines over the measured step, by kind
      const gc = new Map<string, number>();
      let measuring = false;
      server.proc.stdout!.on('data', (chunk: Buffer) => {
        if (!measuring) return;
        for (const line of chunk.toString().split('\n')) {
          const kind = /ms: (Scavenge|Mark-Compact|Mark-Sweep|Minor Mark-Sweep)\b/.exec(line)?.[1];
          if (!kind) continue;
          const reason = line.slice(line.lastIndexOf(')') + 1).trim() || '?';
          gc.set(`${kind} (${reason})`, (gc.get(`${kind} (${reason})`) ?? 0) + 1);
        }
      });
      measuring = true;
      const cpu0 = threadCpu(server.proc.pid!);
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      const r = await v.closedLoop({
        concurrency: Number(ARGS.concurrency),
        durationMs: Number(ARGS.seconds) * 1000,
      });
      const toUs = Number(process.hrtime.bigint() / 1000n);
      const cpu1 = threadCpu(server.proc.pid!);
      measuring = false;
      await server.stop();
      const requests = r.ok;
      console.log(
        `\n${encoding}: c=${ARGS.concurrency}, ${r.ok} requests ok in the profiled step, ${r.throughput.toFixed(0)} req/s` +
          ' (the profiles are read over that step only; time is wall time sampled on each thread, so a thread preempted by another counts as busy)',
      );
      console.log('  CPU per request by thread (/proc, 10 ms ticks):');
      let all = 0;
      for (const [k, v1] of cpu1) {
        const d = v1 - (cpu0.get(k) ?? 0);
        all += d;
        if (d > 0.02) console.log(`    ${((d * 1e6) / requests).toFixed(0).padStart(8)} µs  ${k}`);
      }
      console.log(`    ${((all * 1e6) / requests).toFixed(0).padStart(8)} µs  all threads`);
      for (const [k, n] of gc) console.log(`  GC over the step: ${n} × ${k}`);
      const files = (await readdir(profDir)).filter((f) => f.endsWith('.cpuprofile'));
      for (const f of files) {
        const p = JSON.parse(await readFile(join(profDir, f), 'utf8')) as CpuProfile;
        const s = summarize(p, fromUs, toUs);
        const seconds = (toUs - fromUs) / 1e6;
        if (s.total < 200_000) continue; // a thread that did (almost) nothing
        console.log(
          `  thread ${f}: ${(s.total / 1e6).toFixed(2)} s busy of ${seconds.toFixed(1)} s; ≈${(s.total / requests).toFixed(0)} µs per request`,
        );
        console.log('   by file/package:');
        for (const l of top(s.byFile, 14, requests)) console.log(l);
        console.log('   by function (self):');
        for (const l of top(s.byFn, 30, requests)) console.log(l);
      }
    }
  } finally {
    if (!ARGS.keep) await rm(root, { recursive: true, force: true });
  }
}

await main();
