// The scoring server's Prometheus metrics, on the registry from lib/metrics.ts. Names and the
// `model`/`segment`/`track` labels the canary analysis reads are pinned in docs/internals.md
// ("Server metrics the canary analysis reads"); the rest are for people and dashboards.
//
// API:
//   createServerMetrics({ model, segment, track }) → ServerMetrics (see the interface: one
//   method per thing observed, so callers never spell label sets)
import { Counter, Gauge, type Registry } from 'prom-client';
import { FastHistogram, type HistogramChild } from './fast-histogram.js';
import { createRegistry } from '../lib/metrics.js';

const P = 'lightrank_server_';

/** Latency buckets fine enough for sub-millisecond stages: 25 µs … 2.5 s. */
const LATENCY_BUCKETS = [
  0.000025, 0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
  0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];
const SCORE_BUCKETS = Array.from({ length: 20 }, (_, i) => Math.round((i + 1) * 5) / 100); // 0.05 … 1.0
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export type Stage = 'decode' | 'queue' | 'query_tower' | 'scoring' | 'encode';
export type ReloadKind = 'model' | 'snapshot';

export interface ServerMetrics {
  readonly registry: Registry;
  observeRequest(endpoint: string, status: number, seconds: number): void;
  observeStage(stage: Stage, seconds: number): void;
  error(code: string): void;
  scored(candidates: number, unknown: number): void;
  observeBatch(rows: number): void;
  /** Feeds the score histogram a strided sample (at most SCORE_SAMPLES per task per request). */
  observeScores(task: string, scores: ArrayLike<number>): void;
  reload(kind: ReloadKind, outcome: 'loaded' | 'refused', reason: string): void;
  setModelVersion(version: string): void;
  setSnapshot(version: string, createdAt: Date): void;
}

/** Scores per task per request fed to the histogram: observing all 2,000 would cost more than scoring them. */
export const SCORE_SAMPLES = 16;

export function createServerMetrics(labels: {
  model: string;
  segment: string;
  track: string;
}): ServerMetrics {
  const registry = createRegistry('server');
  const base = ['model', 'segment', 'track'] as const;
  const registers = [registry];
  const requestDuration = new FastHistogram({
    name: `${P}request_duration_seconds`,
    help: 'Request latency by endpoint, from the first byte read to the response written',
    labelNames: [...base, 'endpoint'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const requests = new Counter({
    name: `${P}requests_total`,
    help: 'Requests by endpoint and HTTP status code',
    labelNames: [...base, 'endpoint', 'code'],
    registers,
  });
  const stageDuration = new FastHistogram({
    name: `${P}stage_duration_seconds`,
    help: 'Time per request stage: decode, queue (waiting for a batch), query_tower, scoring, encode',
    labelNames: [...base, 'stage'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const errors = new Counter({
    name: `${P}errors_total`,
    help: 'Error responses by error catalogue code',
    labelNames: [...base, 'code'],
    registers,
  });
  const candidates = new Counter({
    name: `${P}candidates_scored_total`,
    help: 'Candidate items scored (known ids only)',
    labelNames: base,
    registers,
  });
  const unknownIds = new Counter({
    name: `${P}unknown_ids_total`,
    help: 'Candidate ids not found in the snapshot (reported back, not scored)',
    labelNames: base,
    registers,
  });
  const batchSize = new FastHistogram({
    name: `${P}batch_size`,
    help: 'Query rows per query-tower run (dynamic batching)',
    labelNames: base,
    buckets: BATCH_BUCKETS,
    registers,
  });
  const scores = new FastHistogram({
    name: `${P}score`,
    help: 'Per-task scores returned (canary vs stable distribution comparison)',
    labelNames: [...base, 'task'],
    buckets: SCORE_BUCKETS,
    registers,
  });
  const reloads = new Counter({
    name: `${P}reloads_total`,
    help: 'Hot reload attempts of the model or snapshot by outcome (loaded|refused) and reason',
    labelNames: [...base, 'kind', 'outcome', 'reason'],
    registers,
  });
  const modelVersion = new Gauge({
    name: `${P}model_version_info`,
    help: 'The query tower version serving now (value 1)',
    labelNames: [...base, 'version'],
    registers,
  });
  const snapshotVersion = new Gauge({
    name: `${P}snapshot_version_info`,
    help: 'The embedding snapshot version serving now (value 1)',
    labelNames: [...base, 'version'],
    registers,
  });
  let snapshotCreatedAt: Date | undefined;
  new Gauge({
    name: `${P}snapshot_age_seconds`,
    help: 'Age of the serving snapshot (now − its manifest createdAt)',
    labelNames: base,
    registers,
    collect() {
      if (snapshotCreatedAt) this.set({ ...labels }, (Date.now() - snapshotCreatedAt.getTime()) / 1000);
    },
  });

  const fixed = { ...labels };
  // Label objects and histogram children built once per value (observations sit on the request
  // path; the histograms are FastHistograms for that reason, see fast-histogram.ts).
  const errorLabels = new Map<string, Record<string, string>>();
  const requestLabels = new Map<string, Record<string, string>>(); // by "endpoint status"
  const labelsFor = (cache: Map<string, Record<string, string>>, name: string, value: string) => {
    let l = cache.get(value);
    if (!l) cache.set(value, (l = { ...fixed, [name]: value }));
    return l;
  };
  const childFor = (histogram: FastHistogram, name: string) => {
    const children = new Map<string, HistogramChild>();
    return (value: string): HistogramChild => {
      let c = children.get(value);
      if (!c) children.set(value, (c = histogram.child({ ...fixed, [name]: value })));
      return c;
    };
  };
  const requestDurationFor = childFor(requestDuration, 'endpoint');
  const stageDurationFor = childFor(stageDuration, 'stage');
  const scoresFor = childFor(scores, 'task');
  const batchSizes = batchSize.child(fixed);
  return {
    registry,
    observeRequest(endpoint, status, seconds) {
      requestDurationFor(endpoint).observe(seconds);
      let l = requestLabels.get(`${endpoint} ${status}`);
      if (!l) requestLabels.set(`${endpoint} ${status}`, (l = { ...fixed, endpoint, code: String(status) }));
      requests.inc(l);
    },
    observeStage(stage, seconds) {
      stageDurationFor(stage).observe(seconds);
    },
    error(code) {
      errors.inc(labelsFor(errorLabels, 'code', code));
    },
    scored(n, unknown) {
      candidates.inc(fixed, n);
      if (unknown > 0) unknownIds.inc(fixed, unknown);
    },
    observeBatch(rows) {
      batchSizes.observe(rows);
    },
    observeScores(task, values) {
      const n = values.length;
      if (n === 0) return;
      const step = Math.max(1, Math.floor(n / SCORE_SAMPLES));
      const child = scoresFor(task);
      for (let i = 0; i < n; i += step) if (Number.isFinite(values[i])) child.observe(values[i]!);
    },
    reload(kind, outcome, reason) {
      reloads.inc({ ...fixed, kind, outcome, reason });
    },
    setModelVersion(version) {
      modelVersion.reset();
      modelVersion.set({ ...fixed, version }, 1);
    },
    setSnapshot(version, createdAt) {
      snapshotVersion.reset();
      snapshotVersion.set({ ...fixed, version }, 1);
      snapshotCreatedAt = createdAt;
    },
  };
}
