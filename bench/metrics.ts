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

function promClient(): () => void {
  const registers = [new Registry()];
  const req = new Histogram({
    name: 'r',
    help: 'r',
    labelNames: [...base, 'endpoint'],
    buckets: latency,
    registers,
  });
  const stage = new Histogram({
    name: 's',
    help: 's',
    labelNames: [...base, 'stage'],
    buckets: latency,
    registers,
  });
  const score = new Histogram({
    name: 'c',
    help: 'c',
    labelNames: [...base, 'task'],
    buckets: scoreBuckets,
    registers,
  });
  const batch = new Histogram({
    name: 'b',
    help: 'b',
    labelNames: base,
    buckets: [1, 2, 4, 8, 16, 32],
    registers,
  });
  // label objects built once, as server/metrics.ts did before FastHistogram
  const reqL = { ...fixed, endpoint: 'rank' };
  const stageL = stages.map((s) => ({ ...fixed, stage: s }));
  const taskL = tasks.map((t) => ({ ...fixed, task: t }));
  return () => {
    req.observe(reqL, 0.0012);
    for (const l of stageL) stage.observe(l, 0.0003);
    taskL.forEach((l, t) => {
      for (let i = 0; i < 16; i++) score.observe(l, samples[t * 16 + i]!);
    });
    batch.observe(fixed, 8);
  };
}

function fast(): () => void {
  const registers = [new Registry()];
  const req = new FastHistogram({
    name: 'r',
    help: 'r',
    labelNames: [...base, 'endpoint'],
    buckets: latency,
    registers,
  });
  const stage = new FastHistogram({
    name: 's',
    help: 's',
    labelNames: [...base, 'stage'],
    buckets: latency,
    registers,
  });
  const score = new FastHistogram({
    name: 'c',
    help: 'c',
    labelNames: [...base, 'task'],
    buckets: scoreBuckets,
    registers,
  });
  const batch = new FastHistogram({
    name: 'b',
    help: 'b',
    labelNames: base,
    buckets: [1, 2, 4, 8, 16, 32],
    registers,
  });
  const reqC = req.child({ ...fixed, endpoint: 'rank' });
  const stageC = stages.map((s) => stage.child({ ...fixed, stage: s }));
  const taskC = tasks.map((t) => score.child({ ...fixed, task: t }));
  const batchC = batch.child(fixed);
  return () => {
    reqC.observe(0.0012);
    for (const c of stageC) c.observe(0.0003);
    taskC.forEach((c, t) => {
      for (let i = 0; i < 16; i++) c.observe(samples[t * 16 + i]!);
    });
    batchC.observe(8);
  };
}

const cases: Record<string, () => void> = { 'prom-client Histogram': promClient(), FastHistogram: fast() };
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
