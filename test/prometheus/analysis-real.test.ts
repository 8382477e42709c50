// The PromQL the operator writes, proven on real metrics: a real Prometheus (built from its Go module)
// scrapes real scoring-server processes on loopback every second — per segment a stable and a
// canary (LIGHTRANK_SEGMENT / LIGHTRANK_TRACK) — and operator/analysis judges canary vs stable.
//   segment "good": the canary serves the same towers and snapshot as a new version → Passed,
//                   with near-zero score divergence;
//   segment "bad":  the canary's query tower does not match its snapshot (another tower pair):
//                   the server refuses the pair and answers 503 → Failed on the error rate.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoBundle, type DemoBundle } from '../../modelkit/bundle.js';
import { generateFeatures } from '../../modelkit/catalogue.js';
import { analyzeCanary } from '../../operator/analysis/analysis.js';
import { PrometheusClient } from '../../operator/analysis/prometheus.js';
import { requestCount } from '../../operator/analysis/queries.js';
import { publishModel, publishSnapshot } from '../../server/volume.js';
import { openSnapshot } from '../../snapshot/index.js';
import { startServer, type ServerProcess } from '../server/harness.js';
import { TOOL_BUILD_TIMEOUT_MS } from '../harness/tools.js';
import { startPrometheus, type RealPrometheus } from './real-prometheus.js';

let root: string;
let main: DemoBundle;
let other: DemoBundle;
let ids: string[];
const servers: ServerProcess[] = [];
let prometheus: RealPrometheus;
const MODEL = 'ranker';
const REQUESTS = 120;

async function dataDir(
  name: string,
  model: DemoBundle,
  snapshot: DemoBundle,
  version: string,
): Promise<string> {
  const dir = join(root, name);
  await publishModel(dir, version, {
    onnxPath: model.queryModel,
    modelJson: { version, sha256: model.querySha256, towerFingerprint: model.fingerprint },
  });
  await publishSnapshot(dir, snapshot.manifest.snapshotVersion, snapshot.snapshotDir);
  return dir;
}

async function serve(dir: string, segment: string, track: string): Promise<ServerProcess> {
  const s = await startServer(['--data-dir', dir, '--model-name', MODEL, '--execution-provider', 'cpu'], {
    LIGHTRANK_SEGMENT: segment,
    LIGHTRANK_TRACK: track,
  });
  servers.push(s);
  return s;
}

async function load(server: ServerProcess, n: number): Promise<number[]> {
  const cfg = main.config.query;
  const { dense, categorical } = generateFeatures(
    { numDense: cfg.numDense, numCategorical: cfg.numCategorical },
    n,
    5,
  );
  const codes: number[] = [];
  const one = async (i: number) => {
    const body = {
      query: {
        dense: Array.from(dense.subarray(i * cfg.numDense, (i + 1) * cfg.numDense)),
        categorical: Array.from(
          categorical.subarray(i * cfg.numCategorical, (i + 1) * cfg.numCategorical),
          Number,
        ),
      },
      candidates: ids.slice((i * 7) % 1000, ((i * 7) % 1000) + 50),
    };
    codes.push((await server.post(`/v1/models/${MODEL}/rank`, body)).status);
  };
  // spread over a few scrapes (~25 ms between batches of 4)
  for (let i = 0; i < n; i += 4) {
    await Promise.all([0, 1, 2, 3].filter((k) => i + k < n).map((k) => one(i + k)));
    await new Promise((r) => setTimeout(r, 25));
  }
  return codes;
}

// On a cold machine startPrometheus builds Prometheus from its Go module first (cached after).
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-analysis-real-'));
  [main, other] = await Promise.all([
    buildDemoBundle({ dir: join(root, 'main'), items: 2000, seed: 42 }),
    buildDemoBundle({ dir: join(root, 'other'), items: 2000, seed: 7 }),
  ]);
  ids = Array.from((await openSnapshot(main.snapshotDir)).ids.slice(0, 1100), (x) => x.toString());
  const [goodStable, goodCanary, badStable, badCanary] = await Promise.all([
    dataDir('good-stable', main, main, 'v1'),
    dataDir('good-canary', main, main, 'v2'),
    dataDir('bad-stable', main, main, 'v1'),
    dataDir('bad-canary', other, main, 'v2'), // seed-7 query tower + seed-42 snapshot: refused
  ]);
  const procs = await Promise.all([
    serve(goodStable, 'good', 'stable'),
    serve(goodCanary, 'good', 'canary'),
    serve(badStable, 'bad', 'stable'),
    serve(badCanary, 'bad', 'canary'),
  ]);
  prometheus = await startPrometheus(procs.map((p) => `127.0.0.1:${p.port}`));
  // wait for the three servers that can be ready (the bad canary never is)
  for (const p of procs.slice(0, 3)) {
    const deadline = Date.now() + 30_000;
    while ((await p.get('/v2/health/ready')).status !== 200) {
      if (Date.now() > deadline) throw new Error(`server ${p.url} never became ready`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // counters must exist, and be scraped once, before the load: Prometheus' increase() does not
  // count a series' first value. A fixed sleep was not enough on a loaded machine (Prometheus'
  // first scrape can come late), so wait until every server's rank counter has a sample.
  await Promise.all(procs.map((p) => load(p, 1)));
  const prom = new PrometheusClient(prometheus.url);
  const primed = Date.now() + 30_000;
  while (
    ((await prom.scalar(`count(lightrank_server_requests_total{endpoint="rank"})`)) ?? 0) < procs.length
  ) {
    if (Date.now() > primed)
      throw new Error(`Prometheus never scraped all ${procs.length} servers' counters`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const codes = await Promise.all(procs.map((p) => load(p, REQUESTS)));
  expect(codes[0]!.every((c) => c === 200)).toBe(true);
  expect(codes[3]!.every((c) => c === 503)).toBe(true);
  // wait until Prometheus has scraped the load of both canaries
  for (const segment of ['good', 'bad']) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const n = (await prom.scalar(requestCount({ model: MODEL, segment, track: 'canary' }, 60))) ?? 0;
      if (n >= REQUESTS * 0.9) break;
      if (Date.now() > deadline) {
        const q = encodeURIComponent(`lightrank_server_requests_total{segment="${segment}"}[30s]`);
        const raw = await (await fetch(`${prometheus.url}/api/v1/query?query=${q}`)).text();
        throw new Error(
          `Prometheus saw ${n} ${segment} canary requests; samples: ${raw}; log: ${prometheus.output()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await prometheus?.stop();
  if (root) await rm(root, { recursive: true, force: true });
}, TOOL_BUILD_TIMEOUT_MS + 180_000);

const thresholds = { maxErrorRate: 0.01, maxP99LatencyMs: 5000, maxScoreDivergence: 0.2, minSamples: 50 };

describe('canary analysis against a real Prometheus', () => {
  it('passes a canary that serves like stable', async () => {
    const out = await analyzeCanary(new PrometheusClient(prometheus.url), {
      model: MODEL,
      segment: 'good',
      tasks: main.config.tasks,
      thresholds,
      windowSeconds: 60,
      baselineWindowSeconds: 60,
    });
    console.log(`good canary: ${out.result}: ${out.message}`);
    expect(out.result).toBe('Passed');
    expect(out.measurements.canaryRequests).toBeGreaterThanOrEqual(REQUESTS * 0.9);
    expect(out.measurements.errorRate).toBe(0);
    expect(out.measurements.p99LatencyMs).toBeGreaterThan(0);
    for (const task of main.config.tasks) expect(out.measurements.divergence![task]).toBeLessThan(0.05);
  });

  it('fails a canary whose towers do not match (503s), naming the error rate', async () => {
    const out = await analyzeCanary(new PrometheusClient(prometheus.url), {
      model: MODEL,
      segment: 'bad',
      tasks: main.config.tasks,
      thresholds,
      windowSeconds: 60,
      baselineWindowSeconds: 60,
    });
    console.log(`bad canary: ${out.result}: ${out.message}`);
    expect(out.result).toBe('Failed');
    expect(out.measurements.errorRate).toBeCloseTo(1, 5);
    expect(out.message).toMatch(/error rate 1 > 0\.01/);
  });

  it('is inconclusive for a segment with no traffic', async () => {
    const out = await analyzeCanary(new PrometheusClient(prometheus.url), {
      model: MODEL,
      segment: 'idle',
      tasks: main.config.tasks,
      thresholds,
      windowSeconds: 60,
      baselineWindowSeconds: 60,
    });
    expect(out).toMatchObject({ result: 'Inconclusive' });
    expect(out.message).toMatch(/canary served 0 requests/);
  });
});
