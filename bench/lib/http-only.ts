// The HTTP round trip with scoring taken out, and the in-process floor run beside it: what the
// server benchmarks set the real server against (bench/server.ts, bench/server-limit.ts).
//
// startHttpOnly records the real server's answers to the benchmark's request bodies and starts
// bench/lib/http-only-server.ts on them (the server's own Fastify app, answering those bytes), then
// checks that it does answer them.
//
// sideBySide runs the floor's loop (one thread, no HTTP) while the load generator drives the
// HTTP-only server open loop at a share of the floor's throughput alone, for each share. A server
// whose only work is the HTTP round trip and the floor's scoring, on a thread each, answers at
// most the lower of the two rates there (servedBeside): on two shared cores the halves preempt
// each other and sweep each other's caches, which adding up their costs measured apart leaves out.
//
// API:
//   startHttpOnly({ realUrl, bodies, contentType, dir }) → { url, pid, stop() }
//   sideBySide({ floor, open, pid, floorAlone, shares, stepMs }) → Beside[]  (in share order)
//   servedBeside(b) → req/s        BESIDE_SHARES
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FloorResult } from './floor.js';
import { cpuSeconds } from './proc.js';

const REPO = join(import.meta.dirname, '..', '..');

/** Shares of the floor's throughput at which the HTTP-only server is driven beside the floor. */
export const BESIDE_SHARES = [0.8, 0.9, 1.0];

export interface HttpOnlyServer {
  url: string;
  pid: number;
  stop(): void;
}

export async function startHttpOnly(opts: {
  realUrl: string;
  bodies: Buffer[];
  contentType: string;
  dir: string;
}): Promise<HttpOnlyServer> {
  const post = async (url: string, body: Buffer): Promise<Buffer> => {
    const res = await fetch(`${url}/v1/models/demo/rank`, {
      method: 'POST',
      headers: { 'content-type': opts.contentType },
      body,
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${bytes.toString()}`);
    return bytes;
  };
  await mkdir(opts.dir, { recursive: true });
  const answers: Buffer[] = [];
  for (const [i, body] of opts.bodies.entries()) {
    answers.push(await post(opts.realUrl, body));
    await writeFile(join(opts.dir, `req-${i}.bin`), body);
    await writeFile(join(opts.dir, `res-${i}.bin`), answers[i]!);
  }
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO, 'bench', 'lib', 'http-only-server.ts'), opts.dir],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`http-only server exited (${code})`)));
  });
  const server = { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => void child.kill('SIGTERM') };
  const last = opts.bodies.length - 1;
  if (!(await post(server.url, opts.bodies[last]!)).equals(answers[last]!)) {
    server.stop();
    throw new Error('the HTTP-only server does not answer the recorded bytes');
  }
  return server;
}

export interface Beside {
  /** the HTTP-only server's offered rate, as a share of the floor's throughput alone */
  share: number;
  httpThroughput: number;
  /** the HTTP-only server's CPU per request */
  httpUs: number;
  loadgenUs: number;
  floorThroughput: number;
  floorUs: number;
}

/** What a server made of just these two halves answers: each request needs both. */
export const servedBeside = (b: Beside): number => Math.min(b.httpThroughput, b.floorThroughput);

export async function sideBySide(opts: {
  floor: (durationMs: number) => Promise<FloorResult>;
  /** an open-loop step of the load generator aimed at the HTTP-only server */
  open: (
    rate: number,
    durationMs: number,
  ) => Promise<{ throughput: number; ok: number; generatorCpuUsPerReq?: number }>;
  pid: number;
  floorAlone: number;
  shares: readonly number[];
  stepMs: number;
}): Promise<Beside[]> {
  const out: Beside[] = [];
  for (const share of opts.shares) {
    const cpu0 = cpuSeconds(opts.pid);
    const [f, h] = await Promise.all([
      opts.floor(opts.stepMs),
      opts.open(share * opts.floorAlone, opts.stepMs),
    ]);
    out.push({
      share,
      httpThroughput: h.throughput,
      httpUs: ((cpuSeconds(opts.pid) - cpu0) * 1e6) / Math.max(1, h.ok),
      loadgenUs: h.generatorCpuUsPerReq ?? NaN,
      floorThroughput: f.throughput,
      floorUs: f.cpuUsPerReq,
    });
  }
  return out.sort((a, b) => a.share - b.share);
}
