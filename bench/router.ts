// What the router adds over a direct call: the same upstream measured directly and through a real router
// process (router/main.ts) in one run, in alternating rounds, at a fixed concurrency; prints p50/p90/p99 of
// both and the difference.
//   npm run bench:router -- [--concurrency 8] [--requests 4000] [--rounds 5] [--warmup 1000]
//                           [--upstream-url http://127.0.0.1:8080 --path /v1/models/demo/rank --body-file req.json]
// Without --upstream-url a tiny node:http upstream (its own process) answers a small JSON body; with it,
// point at a running scoring server and its ranking endpoint (the model name in --path must be the one the
// server serves).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '8' },
    requests: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1000' },
    'upstream-url': { type: 'string' },
    path: { type: 'string', default: '/v2/models/bench/infer' },
    'body-file': { type: 'string' },
  },
});
const concurrency = Number(args.concurrency);
const perRound = Number(args.requests);
const rounds = Number(args.rounds);
const warmup = Number(args.warmup);
const path = args.path;
const model = /^\/v[12]\/models\/([^/?]+)/.exec(path)?.[1];
if (!model)
  throw new Error(`--path must name a model: /v2/models/{name}/... or /v1/models/{name}/..., got ${path}`);

const TINY_UPSTREAM = `
const http = require('node:http');
const reply = JSON.stringify({ model_name: 'bench', outputs: [{ name: 'score', shape: [1], datatype: 'FP32', data: [0.5] }] });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(reply); });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`;

/** Spawns a process and resolves with the first stdout JSON line carrying a `port`. */
function startProcess(
  cmd: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(
      () => reject(new Error(`${argv.join(' ')} did not report a port within 30 s`)),
      30_000,
    );
    proc.on('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code} before listening`)));
    proc.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      for (const line of buf.split('\n')) {
        const port = /"port":(\d+)/.exec(line)?.[1];
        if (port) {
          clearTimeout(timer);
          resolve({ proc, port: Number(port) });
        }
      }
    });
  });
}

/** Closed-loop load: `concurrency` workers, each sending its next request when the previous one ended. */
async function run(
  base: string,
  total: number,
  body: Buffer,
): Promise<{ ns: bigint[]; wallNs: bigint; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const ns: bigint[] = [];
  let errors = 0;
  let sent = 0;
  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = http.request(
        `${base}${path}`,
        {
          agent,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ns.push(process.hrtime.bigint() - t0);
            else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const worker = async (): Promise<void> => {
    while (sent < total) {
      sent++;
      await once();
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallNs = process.hrtime.bigint() - start;
  agent.destroy();
  return { ns, wallNs, errors };
}

function pct(sorted: bigint[], p: number): number {
  return Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!) / 1e6;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lightrank-bench-router-'));
  const children: ChildProcess[] = [];
  try {
    let upstream = args['upstream-url'];
    if (!upstream) {
      const tiny = await startProcess(process.execPath, ['-e', TINY_UPSTREAM], process.env);
      children.push(tiny.proc);
      upstream = `http://127.0.0.1:${tiny.port}`;
    }
    const body = args['body-file'] ? await readFile(args['body-file']) : Buffer.from('{"inputs":[]}');
    const tablePath = join(dir, 'table.json');
    const table = {
      version: 1,
      models: {
        [model!]: {
          defaultSegment: 'standard',
          segments: { standard: { backends: [{ track: 'stable', url: upstream, weight: 100 }] } },
        },
      },
    };
    await writeFile(tablePath, JSON.stringify(table));
    const router = await startProcess(
      process.execPath,
      ['--import', 'tsx', 'router/main.ts', '--table', tablePath, '--port', '0', '--host', '127.0.0.1'],
      { ...process.env, LOG_LEVEL: 'info' },
    );
    children.push(router.proc);
    const through = `http://127.0.0.1:${router.port}`;

    await run(upstream, warmup, body);
    await run(through, warmup, body);
    const sides = {
      direct: { ns: [] as bigint[], wall: 0n, errors: 0 },
      router: { ns: [] as bigint[], wall: 0n, errors: 0 },
    };
    for (let r = 0; r < rounds; r++) {
      for (const [side, base] of [
        ['direct', upstream],
        ['router', through],
      ] as const) {
        const res = await run(base, perRound, body);
        sides[side].ns.push(...res.ns);
        sides[side].wall += res.wallNs;
        sides[side].errors += res.errors;
      }
    }

    const rows = Object.entries(sides).map(([side, s]) => {
      const sorted = [...s.ns].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const mean = Number(s.ns.reduce((a, b) => a + b, 0n)) / s.ns.length / 1e6;
      return {
        side,
        ok: s.ns.length,
        errors: s.errors,
        p50: pct(sorted, 50),
        p90: pct(sorted, 90),
        p99: pct(sorted, 99),
        mean,
        rps: s.ns.length / (Number(s.wall) / 1e9),
      };
    });
    const [d, t] = rows as [(typeof rows)[0], (typeof rows)[0]];
    const f = (x: number): string => x.toFixed(3).padStart(8);
    console.log(
      `\nrouter overhead — upstream ${args['upstream-url'] ? upstream : 'tiny node:http (own process)'}, POST ${path}, ` +
        `concurrency ${concurrency}, ${rounds} alternating rounds × ${perRound} requests per side (+${warmup} warm-up)\n`,
    );
    console.log('side      ok      errors  p50 ms    p90 ms    p99 ms    mean ms   req/s');
    for (const r of rows) {
      console.log(
        `${r.side.padEnd(8)} ${String(r.ok).padStart(7)} ${String(r.errors).padStart(6)} ${f(r.p50)}  ${f(r.p90)}  ${f(r.p99)}  ${f(r.mean)}  ${r.rps.toFixed(0).padStart(7)}`,
      );
    }
    console.log(
      `added    ${' '.repeat(14)} ${f(t.p50 - d.p50)}  ${f(t.p90 - d.p90)}  ${f(t.p99 - d.p99)}  ${f(t.mean - d.mean)}`,
    );
    console.log(
      '\nAccuracy: latency is process.hrtime.bigint() around each request in a closed-loop generator (a slow reply ' +
        'delays the next send, so tails are understated: coordinated omission). Generator, router and upstream share ' +
        "this host's CPUs, so the figures include scheduling contention and the generator's own event-loop delay " +
        '(tens of µs, on both sides alike). "added" is a difference of percentiles, not a percentile of differences. ' +
        'Alternating rounds cancel slow drift (thermal, other load) between the two sides.',
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
