// What one ranking request's histogram observations cost on the HTTP thread, prom-client's
// Histogram vs FastHistogram (server/fast-histogram.ts, what the server uses), side by side in
// rounds that take turns (medians): 1 request duration, 5 stage durations, 2 tasks × 16 score
// samples, 1 batch size — the server's labels and buckets.
//
//   npm run bench:metrics [-- ROUNDS]   (default 5)
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../server/fast-histogram.js';

const ROUNDS = Number(process.argv[2] ?? 5);
const REQUESTS = 20_000;
const fixed = { model: 'demo', segment: 'standard', track: 'stable' };
const base = ['model', 'segment', 'track'];
const latency = [0.000025, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5];
const scoreBuckets = Array.from({ length: 20 }, (_, i) => Math.round((i + 1) * 5) / 100);
const stages = ['decode', 'queue', 'query_tower', 'scoring', 'encode'];
const tasks = ['ctr', 'good_click'];
const samples = Float64Array.from({ length: 32 }, (_, i) => ((i * 7919) % 997) / 997);

type Bind = (
  name: string,
  labelNames: string[],
  buckets: number[],
) => (labels: Record<string, string>) => (v: number) => void;

/** One request's observations through histograms made by `bind`; label sets bound once. */
function request(bind: Bind): () => void {
  const req = bind('r', [...base, 'endpoint'], latency)({ ...fixed, endpoint: 'rank' });
  const stage = bind('s', [...base, 'stage'], latency);
  const stageObs = stages.map((s) => stage({ ...fixed, stage: s }));
  const score = bind('c', [...base, 'task'], scoreBuckets);
  const taskObs = tasks.map((t) => score({ ...fixed, task: t }));
  const batch = bind('b', base, [1, 2, 4, 8, 16, 32])(fixed);
  return () => {
    req(0.0012);
    for (const observe of stageObs) observe(0.0003);
    taskObs.forEach((observe, t) => {
      for (let i = 0; i < 16; i++) observe(samples[t * 16 + i]!);
    });
    batch(8);
  };
}

const registers = [new Registry()];
// prom-client: the label object built once, as server/metrics.ts did before FastHistogram
const promClient: Bind = (name, labelNames, buckets) => {
  const h = new Histogram({ name: `p_${name}`, help: name, labelNames, buckets, registers });
  return (labels) => (v) => h.observe(labels, v);
};
const fast: Bind = (name, labelNames, buckets) => {
  const h = new FastHistogram({ name: `f_${name}`, help: name, labelNames, buckets, registers });
  return (labels) => {
    const child = h.child(labels);
    return (v) => child.observe(v);
  };
};

const cases: Record<string, () => void> = {
  'prom-client Histogram': request(promClient),
  FastHistogram: request(fast),
};
const times = new Map<string, number[]>();
for (let r = 0; r < ROUNDS; r++)
  for (const [name, request] of Object.entries(cases)) {
    const t0 = performance.now();
    for (let i = 0; i < REQUESTS; i++) request();
    times.set(name, [...(times.get(name) ?? []), ((performance.now() - t0) / REQUESTS) * 1000]);
  }
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `39 observations per ranking request, ${ROUNDS} rounds × ${REQUESTS} requests, median µs per request`,
);
for (const [name, t] of times) console.log(`  ${name.padEnd(24)} ${median(t).toFixed(2).padStart(7)} µs`);
const [a, b] = [median(times.get('prom-client Histogram')!), median(times.get('FastHistogram')!)];
console.log(`  FastHistogram / prom-client: ${(b / a).toFixed(3)}×`);
