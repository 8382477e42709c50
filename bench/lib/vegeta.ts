// Load from vegeta (github.com/tsenart/vegeta, Go; built by scripts/build-vegeta.sh into a cache
// outside the repo), a well-known open-loop HTTP load generator that costs far less CPU per
// request than a Node client, which matters when it shares two cores with the server it measures.
//   open loop:   `vegeta attack -rate R/1s` — requests leave on a fixed schedule whatever the
//                server does (vegeta adds workers when all are busy, so a slow server does not
//                slow the schedule down: no coordinated omission);
//   closed loop: `-rate 0 -max-workers N -workers N` — N clients, each sends when answered.
// Accuracy: vegeta times each request in Go (monotonic clock, ns) from just before writing it to
// the end of reading the response; this module computes EXACT percentiles over every request's
// latency (from `vegeta encode --to json`), not vegeta's own `report`, whose quantiles come from
// an approximate t-digest. Limits: vegeta shares the cores with the server, so its own scheduling
// (and Go GC) delays show up as latency, and as send lag (how late a request left against its
// slot in the schedule, reported for open loops). The generator's CPU per request is measured
// too (its user + system time from /proc, 10 ms ticks).
//
// API:
//   buildVegeta() → string | undefined                 the binary, or undefined (with the reason
//                                                     printed) when it cannot be built here
//   new Vegeta(bin, dir, { url, bodies, contentType })  targets written to dir once
//   vegeta.openLoop({ rate, durationMs }) → Promise<VegetaResult>
//   vegeta.closedLoop({ concurrency, durationMs }) → Promise<VegetaResult>
//   VegetaResult: LoadResult + { sendLagP99Ms, generatorCpuUsPerReq }
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { summarize, type LoadResult } from './loadgen.js';
import { statCpuSeconds } from './proc.js';

const REPO = join(import.meta.dirname, '..', '..');

export interface VegetaResult extends LoadResult {
  /** p99 of how late requests left against their scheduled time (open loop; 0 for closed) */
  sendLagP99Ms: number;
  /** vegeta's own CPU time (user + system) per request sent */
  generatorCpuUsPerReq: number;
  /** every request's latency (ms), in send order */
  latenciesMs: Float64Array;
}

/** Builds (or finds cached) vegeta with scripts/build-vegeta.sh; undefined when Go is missing. */
export function buildVegeta(): string | undefined {
  try {
    const out = execFileSync('bash', [join(REPO, 'scripts', 'build-vegeta.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return join(out.trim().split('\n').at(-1)!, 'vegeta');
  } catch (e) {
    console.log(`vegeta could not be built (${e instanceof Error ? e.message : String(e)})`);
    return undefined;
  }
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { maxBuffer: 1 << 30, encoding: 'utf8' }, (err, stdout, stderr) =>
      err
        ? reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`))
        : resolve(stdout),
    ),
  );
}

/** RFC 3339 with nanoseconds (vegeta's JSON timestamps) → µs since the epoch. */
function timestampUs(ts: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) throw new Error(`vegeta result: unreadable timestamp "${ts}"`);
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return Date.parse(`${m[1]}${m[3]}`) * 1000 + Number(frac);
}

/**
 * Most requests in flight at once, from each request's [send, send + latency) interval; an end
 * within 1 µs of a start counts as before it (send times are read to the µs).
 */
function maxInFlight(sentUs: Float64Array, latUs: number[]): number {
  const starts = Float64Array.from(sentUs).sort();
  const ends = Float64Array.from(sentUs, (t, i) => t + latUs[i]!).sort();
  let most = 0;
  for (let i = 0, j = 0, now = 0; i < starts.length; i++) {
    while (ends[j]! <= starts[i]! + 1) {
      j++;
      now--;
    }
    most = Math.max(most, ++now);
  }
  return most;
}

interface Hit {
  seq: number;
  code: number;
  timestamp: string;
  latency: number;
}

export class Vegeta {
  private readonly targets: string;
  private readonly results: string;

  constructor(
    private readonly bin: string,
    dir: string,
    target: { url: string; bodies: Buffer[]; contentType: string },
  ) {
    this.targets = join(dir, 'targets.jsonl');
    this.results = join(dir, 'results.bin');
    const lines = target.bodies.map((b) =>
      JSON.stringify({
        method: 'POST',
        url: target.url,
        // identity: Go's transport otherwise asks for gzip on its own, and the server compresses
        // when asked (as Triton does); the benchmark measures plain answers, as clients that
        // choose no compression get them
        header: { 'Content-Type': [target.contentType], 'Accept-Encoding': ['identity'] },
        body: b.toString('base64'),
      }),
    );
    writeFileSync(this.targets, lines.join('\n') + '\n');
  }

  openLoop(opts: { rate: number; durationMs: number }): Promise<VegetaResult> {
    return this.attack(['-rate', `${Math.max(1, Math.round(opts.rate))}/1s`], opts.durationMs, opts.rate);
  }

  closedLoop(opts: { concurrency: number; durationMs: number }): Promise<VegetaResult> {
    const n = String(opts.concurrency);
    return this.attack(['-rate', '0', '-workers', n, '-max-workers', n], opts.durationMs);
  }

  private async attack(mode: string[], durationMs: number, rate?: number): Promise<VegetaResult> {
    // The shell reports vegeta's CPU time: once it has waited for vegeta, its own /proc stat
    // holds it in cutime/cstime.
    const script = '"$0" "$@" || exit $?; cat /proc/$$/stat';
    const stat = await run('sh', [
      '-c',
      script,
      this.bin,
      'attack',
      '-format',
      'json',
      '-targets',
      this.targets,
      '-duration',
      `${durationMs}ms`,
      '-timeout',
      '10s',
      '-max-body',
      '0',
      '-output',
      this.results,
      ...mode,
    ]);
    const cpuUs = statCpuSeconds(stat, 'children') * 1e6;
    const encoded = await run(this.bin, ['encode', '--to', 'json', this.results]);
    const hits: Hit[] = encoded
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Hit);
    if (hits.length === 0) throw new Error('vegeta recorded no requests');
    let first = Infinity;
    let last = -Infinity;
    let ok = 0;
    const latUs = new Array<number>(hits.length);
    const sentUs = new Float64Array(hits.length);
    hits.forEach((h, i) => {
      const t = timestampUs(h.timestamp);
      sentUs[i] = t;
      latUs[i] = h.latency / 1000;
      first = Math.min(first, t);
      last = Math.max(last, t + latUs[i]!);
      if (h.code === 200) ok++;
    });
    let sendLagP99Ms = 0;
    if (rate !== undefined) {
      // slot of request seq: first send + seq / rate (vegeta's constant pacer)
      const interval = 1e6 / Math.max(1, Math.round(rate));
      const lag = Float64Array.from(hits, (h, i) =>
        Math.max(0, sentUs[i]! - first - h.seq * interval),
      ).sort();
      sendLagP99Ms = lag[Math.min(lag.length - 1, Math.ceil(0.99 * lag.length) - 1)]! / 1000;
    }
    return {
      ...summarize(latUs, hits.length, ok, (last - first) / 1e6, maxInFlight(sentUs, latUs)),
      sendLagP99Ms,
      generatorCpuUsPerReq: cpuUs / hits.length,
      latenciesMs: Float64Array.from(latUs, (x) => x / 1000),
    };
  }
}
