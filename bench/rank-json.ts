// The JSON ranking codec on the HTTP thread, per 2,000-candidate request, side by side with the
// obvious baselines in one run (rounds take turns; medians):
//   decode: JSON.parse alone (the floor: any JSON API pays it) vs JSON.parse + the request schema
//           (zod), which also checks and parses the ids into a BigUint64Array (server/ids.ts);
//   encode: JSON.stringify of the response with scores as plain arrays vs encodeRankResponse
//           (server/encode.ts: scores written straight into a Buffer).
//
//   npm run bench:rank-json [-- ROUNDS]   (default 5)
import { encodeRankResponse } from '../server/encode.js';
import { rankRequestSchema } from '../server/schemas.js';

const ROUNDS = Number(process.argv[2] ?? 5);
const N = 2000;
const ITERATIONS = 1000;

const text = JSON.stringify({
  query: { dense: Array.from({ length: 16 }, (_, i) => i / 7), categorical: [1, 2, 3, 4] },
  candidates: Array.from({ length: N }, (_, i) => String(9007199254740993n + BigInt(i) * 7919n)),
});
const schema = rankRequestSchema({ maxCandidates: 10_000 });
const values = Float32Array.from({ length: N }, (_, i) => 0.001 + ((i * 7919) % 997) / 1000);
const present = Int32Array.from({ length: N }, (_, i) => i);
const head = {
  model: 'demo',
  modelVersion: 'm1',
  snapshotVersion: 'v1',
  tasks: ['ctr', 'good_click'],
  unknownIds: [],
};

let sink = 0;
const CASES: Record<string, () => void> = {
  'decode: JSON.parse alone': () => {
    sink += (JSON.parse(text) as { candidates: unknown[] }).candidates.length;
  },
  'decode: JSON.parse + schema + ids': () => {
    const out = schema.safeParse(JSON.parse(text));
    if (!out.success) throw new Error(out.error.message);
    sink += out.data.candidates.length;
  },
  'encode: JSON.stringify': () => {
    sink += JSON.stringify({
      ...head,
      scores: { ctr: Array.from(values), good_click: Array.from(values) },
    }).length;
  },
  'encode: encodeRankResponse': () => {
    sink += encodeRankResponse({
      ...head,
      scores: { ctr: { values, present }, good_click: { values, present } },
    }).length;
  },
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const times = new Map<string, number[]>();
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(CASES)) {
    const t0 = performance.now();
    for (let i = 0; i < ITERATIONS; i++) fn();
    times.set(name, [...(times.get(name) ?? []), ((performance.now() - t0) / ITERATIONS) * 1000]);
  }
}
console.log(`${N} candidates per request, ${ROUNDS} rounds × ${ITERATIONS} requests, median µs per request`);
const us = (name: string): number => median(times.get(name)!);
for (const name of Object.keys(CASES))
  console.log(`  ${name.padEnd(36)} ${us(name).toFixed(0).padStart(6)} µs`);
console.log(
  `  decode / JSON.parse alone: ${(us('decode: JSON.parse + schema + ids') / us('decode: JSON.parse alone')).toFixed(2)}×; ` +
    `encodeRankResponse / JSON.stringify: ${(us('encode: encodeRankResponse') / us('encode: JSON.stringify')).toFixed(2)}×` +
    (sink ? '' : ' '),
);
