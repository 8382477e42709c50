// The vegeta driver against a real HTTP server on loopback that answers after a known delay:
// bodies and content type arrive as given, closed loops keep N in flight, open loops keep their
// rate, latencies and throughput are read back from vegeta's results, non-200s count as failed.
// Builds vegeta with scripts/build-vegeta.sh (cached outside the repo; the first build takes
// about half a minute).
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVegeta, Vegeta } from './vegeta.js';

const DELAY_MS = 3;
let dir: string;
let server: Server;
let url: string;
let bin: string;
const received: { body: string; type: string | undefined }[] = [];

beforeAll(async () => {
  const built = buildVegeta();
  if (!built) throw new Error('vegeta could not be built (is Go installed?)');
  bin = built;
  dir = await mkdtemp(join(tmpdir(), 'lightrank-vegeta-'));
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      received.push({ body, type: req.headers['content-type'] });
      setTimeout(() => {
        res.statusCode = body.startsWith('fail') ? 503 : 200;
        res.end('ok');
      }, DELAY_MS);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rank`;
}, 180_000);

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('vegeta driver', () => {
  it('closed loop: at most N in flight, latencies include the server delay, bodies as given', async () => {
    received.length = 0;
    const bodies = [Buffer.from('alpha'), Buffer.from('beta\u0000\u00ff')];
    const v = new Vegeta(bin, dir, { url, bodies, contentType: 'application/x-test' });
    const r = await v.closedLoop({ concurrency: 2, durationMs: 600 });
    expect(r.sent).toBeGreaterThan(20);
    expect(r.ok).toBe(r.sent);
    expect(r.failed).toBe(0);
    expect(r.maxInFlight).toBeLessThanOrEqual(2);
    expect(r.p50Ms).toBeGreaterThanOrEqual(DELAY_MS);
    expect(r.p50Ms).toBeLessThan(1000);
    expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
    // two clients, each waiting ≥ DELAY_MS per request
    expect(r.throughput).toBeLessThanOrEqual((2 * 1000) / DELAY_MS);
    expect(r.sendLagP99Ms).toBe(0);
    expect(r.generatorCpuUsPerReq).toBeGreaterThan(0);
    expect(new Set(received.map((x) => x.body))).toEqual(new Set(['alpha', 'beta\u0000\u00ff']));
    expect(new Set(received.map((x) => x.type))).toEqual(new Set(['application/x-test']));
  });

  it('open loop: keeps its rate whatever the server does; non-200 answers count as failed', async () => {
    const v = new Vegeta(bin, dir, { url, bodies: [Buffer.from('fail-1')], contentType: 'text/plain' });
    const r = await v.openLoop({ rate: 200, durationMs: 1000 });
    expect(r.sent).toBeGreaterThanOrEqual(180); // 200 unless the generator is starved of CPU
    expect(r.sent).toBeLessThanOrEqual(201);
    expect(r.ok).toBe(0);
    expect(r.failed).toBe(r.sent);
    // throughput counts answered-with-200 only
    expect(r.throughput).toBe(0);
    expect(r.p50Ms).toBeGreaterThanOrEqual(DELAY_MS);
    expect(r.sendLagP99Ms).toBeGreaterThanOrEqual(0);
    expect(r.seconds).toBeGreaterThan(0.85); // first to last request: (sent − 1) / rate, and sent ≥ 180 above
    expect(r.seconds).toBeLessThan(2);
  });
});
