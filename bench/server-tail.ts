// Where the tail of one-at-a-time requests goes: the scoring server at concurrency 1 (vegeta,
// closed loop), with V8's GC trace on (`--trace-gc`), read three ways over the same window:
//   - the client's latency: p50, p99, and how many requests took more than 3× p50 ("slow");
//   - the server's own stage histograms (decode, queue, query_tower, scoring, encode) and its
//     request_duration_seconds, from /metrics before and after: how many observations of each
//     passed 1, 2 and 5 ms — which stage the slow requests spent their time in, if any;
//   - the GC pauses on the server's main thread during the window: count, total, the longest,
//     and how many lasted over 1 ms (a pause delays whichever request is on the thread).
// If slow requests outnumber slow stages and GC pauses, the time is outside the server
// (scheduling, the generator, the loopback).
//
//   npx tsx bench/server-tail.ts [--encoding json|binary] [--seconds 10] [--repo .] [--node-args "..."]
//   [--server-args "..."]
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openSnapshot } from '../snapshot/index.js';
import { stageDemo, waitFor } from '../test/server/harness.js';
import { rankBodies } from './lib/rank-bodies.js';
import { buildVegeta, Vegeta } from './lib/vegeta.js';

const { values: A } = parseArgs({
  options: {
    encoding: { type: 'string', default: 'json' },
    seconds: { type: 'string', default: '10' },
    repo: { type: 'string', default: '.' },
    'node-args': { type: 'string', default: '' },
    'server-args': { type: 'string', default: '' },
  },
});
const CANDIDATES = 2000;
const words = (s: string): string[] => s.split(' ').filter(Boolean);

/** Cumulative bucket counts of one histogram series (by label filter) from exposition text. */
function buckets(text: string, name: string, filter: string): Map<number, number> {
  const out = new Map<number, number>();
  const re = new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) {
    if (!m[1]!.includes(filter)) continue;
    const le = /le="([^"]+)"/.exec(m[1]!)![1]!;
    out.set(le === '+Inf' ? Infinity : Number(le), Number(m[2]));
  }
  return out;
}

/** Observations over `seconds` between two scrapes. */
function over(before: Map<number, number>, after: Map<number, number>, seconds: number): number {
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  const under = (after.get(seconds) ?? 0) - (before.get(seconds) ?? 0);
  return total - under;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'lightrank-tail-'));
  const bin = buildVegeta();
  if (!bin) throw new Error('vegeta is needed (scripts/build-vegeta.sh)');
  const staged = await stageDemo(root, { items: 20_000 });
  const snapshot = await openSnapshot(staged.bundle.snapshotDir, { loadEmbeddings: false });
  const repo = resolve(A.repo!);
  const child = spawn(
    process.execPath,
    [
      '--trace-gc',
      ...words(A['node-args']!),
      '--import',
      'tsx',
      join(repo, 'server', 'main.ts'),
      '--data-dir',
      staged.dataDir,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      ...words(A['server-args']!),
    ],
    { cwd: repo, env: { ...process.env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  /** GC trace lines: "[pid:0x..]   12345 ms: Scavenge 10.1 (12.0) -> 9.8 (12.0) MB, 0.52 / 0.00 ms ..." */
  const gcs: { atMs: number; kind: string; pauseMs: number; reason: string }[] = [];
  let buf = '';
  const port = await new Promise<number>((ok, fail) => {
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        const g =
          /^\[\d+:0x[0-9a-f]+\]\s+(\d+) ms: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Sweep)[^,]*, ([\d.]+) \/ ([\d.]+) ms/.exec(
            line,
          );
        if (g)
          gcs.push({
            atMs: Number(g[1]),
            kind: g[2]!,
            pauseMs: Number(g[3]),
            reason: line.slice(line.indexOf(' ms: ') + 5),
          });
        else if (line.includes('"msg":"listening"')) ok((JSON.parse(line) as { port: number }).port);
        else if (process.env.TAIL_ECHO && !line.startsWith('{')) console.log(`server: ${line}`);
      }
    });
    child.on('exit', (code) => fail(new Error(`server exited ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 60_000, 'ready');
    const { bodies, contentType } = rankBodies(snapshot.ids, CANDIDATES, A.encoding);
    const dir = join(root, 'v');
    await mkdir(dir);
    const v = new Vegeta(bin, dir, {
      url: `${url}/v1/models/demo/rank`,
      bodies,
      contentType,
    });
    await v.closedLoop({ concurrency: 4, durationMs: 3000 }); // warm-up
    const before = await (await fetch(`${url}/metrics`)).text();
    const gcFrom = gcs.length;
    const r = await v.closedLoop({ concurrency: 1, durationMs: Number(A.seconds) * 1000 });
    const after = await (await fetch(`${url}/metrics`)).text();
    const window = gcs.slice(gcFrom);
    const lat = Array.from(r.latenciesMs);
    const slow = lat.filter((x) => x > 3 * r.p50Ms).length;
    console.log(
      `${A.encoding}, concurrency 1, ${A.seconds} s, node args "${A['node-args']}", server args "${A['server-args']}", load average ${loadavg()[0]!.toFixed(1)}`,
    );
    console.log(
      `client: ${r.ok} requests, ${r.throughput.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms (${(r.p99Ms / r.p50Ms).toFixed(1)}× p50); ` +
        `${slow} over 3× p50 (${((100 * slow) / Math.max(1, r.ok)).toFixed(1)}%)`,
    );
    const rows: [string, string, string][] = [
      ['request_duration_seconds', 'lightrank_server_request_duration_seconds', 'endpoint="rank"'],
      ...['decode', 'queue', 'query_tower', 'scoring', 'encode'].map(
        (s) => [s, 'lightrank_server_stage_duration_seconds', `stage="${s}"`] as [string, string, string],
      ),
    ];
    console.log('server histograms: observations over 1 / 2 / 5 ms');
    for (const [label, name, filter] of rows) {
      const b = buckets(before, name, filter);
      const a = buckets(after, name, filter);
      console.log(
        `  ${label.padEnd(26)} ${[0.001, 0.002, 0.005].map((t) => String(over(b, a, t)).padStart(5)).join(' ')}`,
      );
    }
    const pauses = window.map((g) => g.pauseMs);
    const byKind = new Map<string, number>();
    for (const g of window) byKind.set(g.kind, (byKind.get(g.kind) ?? 0) + 1);
    console.log(
      `main-thread GC in the window: ${window.length} pauses (${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ')}), ` +
        `${pauses.reduce((a, b) => a + b, 0).toFixed(1)} ms in all, longest ${Math.max(0, ...pauses).toFixed(2)} ms, ` +
        `${pauses.filter((p) => p > 1).length} over 1 ms`,
    );
    // the trigger, as V8 writes it after the pause figures (e.g. "finalize incremental marking via
    // task; GC in old space requested"); the worker thread's own GCs (same trace) are told by size
    const reasons = new Map<string, number>();
    for (const g of window) {
      const why = g.reason.replace(/^.*current mu = [\d.]+\)\s*/, '').replace(/[;\s]+$/, '') || '?';
      const key = `${g.kind}: ${why}`;
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
    for (const [k, n] of reasons) console.log(`  ${String(n).padStart(4)} × ${k}`);

    // The same closed loop on a request that does nothing (a 404: HTTP parsing, the error
    // handler, a 60-byte answer): the tail this machine gives any request, whatever the server does.
    const noopDir = join(root, 'noop');
    await mkdir(noopDir);
    const noop = new Vegeta(bin, noopDir, {
      url: `${url}/v1/models/demo/nothing`,
      bodies: [Buffer.from('{}')],
      contentType: 'application/json',
    });
    const n = await noop.closedLoop({ concurrency: 1, durationMs: Number(A.seconds) * 1000 });
    const nslow = Array.from(n.latenciesMs).filter((x) => x > 3 * n.p50Ms).length;
    console.log(
      `no-op request (404) at concurrency 1: ${n.sent} requests, p50 ${n.p50Ms.toFixed(2)} ms, p99 ${n.p99Ms.toFixed(2)} ms ` +
        `(${(n.p99Ms / n.p50Ms).toFixed(1)}× p50); ${nslow} over 3× p50 (${((100 * nslow) / Math.max(1, n.sent)).toFixed(1)}%)`,
    );
  } finally {
    child.kill('SIGTERM');
    await rm(root, { recursive: true, force: true });
  }
}

await main();
