// A small HTTP load generator for the benchmarks, on node:http with a keep-alive agent and
// microsecond timing (process.hrtime.bigint()). The server benchmark prefers vegeta
// (bench/lib/vegeta.ts, far less CPU per request) and falls back to this one without Go.
//   openLoop: requests leave at a fixed rate whatever the server does (no coordinated omission:
//     latency counts from the *scheduled* send time, so a stalled server or a late generator
//     shows up as latency instead of hiding it).
//   closedLoop: `concurrency` clients each send the next request when the previous answers.
// Accuracy limits: percentiles are exact over every recorded latency (no histogram
// bucketing), but the generator shares the CPU with the server it measures; when it cannot
// keep its schedule (timers are ≥ 1 ms coarse, so sends are dispatched in small bursts from
// setImmediate) the lateness is charged to the server, i.e. results are pessimistic.
//
// API:
//   openLoop({ url, bodies, contentType?, rate, durationMs, maxInFlight? }) → Promise<LoadResult>
//   closedLoop({ url, bodies, contentType?, concurrency, durationMs }) → Promise<LoadResult>
//   LoadResult: { sent, ok, failed, seconds, throughput, p50Ms, p90Ms, p99Ms, maxMs, maxInFlight }
//   summarize(latUs, sent, ok, seconds, maxInFlight) → LoadResult   exact nearest-rank percentiles
import { Agent, request } from 'node:http';

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  seconds: number;
  throughput: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  maxInFlight: number;
}

interface Target {
  url: string;
  /** request bodies, used round-robin */
  bodies: Buffer[];
  /** their content type (default application/json) */
  contentType?: string;
}

function sendOne(agent: Agent, u: URL, body: Buffer, contentType = 'application/json'): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { 'content-type': contentType, 'content-length': body.length },
      },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode === 200));
        res.on('error', () => resolve(false));
      },
    );
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

export function summarize(
  latUs: number[],
  sent: number,
  ok: number,
  seconds: number,
  maxInFlight: number,
): LoadResult {
  const sorted = Float64Array.from(latUs).sort();
  const pct = (p: number): number =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]! / 1000 : NaN;
  return {
    sent,
    ok,
    failed: sent - ok,
    seconds,
    throughput: ok / seconds,
    p50Ms: pct(0.5),
    p90Ms: pct(0.9),
    p99Ms: pct(0.99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! / 1000 : NaN,
    maxInFlight,
  };
}

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

export async function openLoop(
  opts: Target & { rate: number; durationMs: number; maxInFlight?: number },
): Promise<LoadResult> {
  const u = new URL(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxInFlight ?? 256 });
  const intervalUs = 1e6 / opts.rate;
  const total = Math.max(1, Math.round((opts.rate * opts.durationMs) / 1000));
  const start = nowUs() + 1000;
  const lat: number[] = [];
  let sent = 0;
  let ok = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const pending: Promise<void>[] = [];
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = nowUs();
      while (sent < total && start + sent * intervalUs <= now) {
        const scheduled = start + sent * intervalUs;
        const body = opts.bodies[sent % opts.bodies.length]!;
        sent++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        pending.push(
          sendOne(agent, u, body, opts.contentType).then((good) => {
            inFlight--;
            if (good) ok++;
            lat.push(nowUs() - scheduled);
          }),
        );
      }
      if (sent >= total) return done();
      const waitUs = start + sent * intervalUs - nowUs();
      if (waitUs > 1500) setTimeout(tick, Math.floor(waitUs / 1000) - 1);
      else setImmediate(tick);
    };
    tick();
  });
  await Promise.all(pending);
  const seconds = (nowUs() - start) / 1e6;
  agent.destroy();
  return summarize(lat, sent, ok, seconds, maxInFlight);
}

export async function closedLoop(
  opts: Target & { concurrency: number; durationMs: number },
): Promise<LoadResult> {
  const u = new URL(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const lat: number[] = [];
  let sent = 0;
  let ok = 0;
  const start = nowUs();
  const end = start + opts.durationMs * 1000;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (nowUs() < end) {
        const t0 = nowUs();
        const body = opts.bodies[sent++ % opts.bodies.length]!;
        if (await sendOne(agent, u, body, opts.contentType)) ok++;
        lat.push(nowUs() - t0);
      }
    }),
  );
  const seconds = (nowUs() - start) / 1e6;
  agent.destroy();
  return summarize(lat, sent, ok, seconds, opts.concurrency);
}
