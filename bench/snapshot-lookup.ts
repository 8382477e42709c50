// Benchmark of the snapshot id index: build a 1M-row IdIndex over 64-bit ids, then time lookups
// of 5,000 ids (half known, half unknown) per batch, from a BigUint64Array and from bigint[].
// Prints index bytes, build time and per-batch p50/p99 (performance.now(), µs resolution).
//   npx tsx bench/snapshot-lookup.ts [rows=1000000] [batch=5000] [batches=500]
import { generateItemIds } from '../modelkit/catalogue.js';
import { IdIndex } from '../snapshot/id-index.js';

const [rows = 1_000_000, batch = 5000, batches = 500] = process.argv.slice(2).map(Number);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const ids = generateItemIds(rows, 1);
let t0 = performance.now();
const index = IdIndex.build(ids);
const buildMs = performance.now() - t0;

const queries = Array.from({ length: 16 }, (_, s) => {
  const q = new BigUint64Array(batch);
  for (let i = 0; i < batch; i++)
    q[i] = i % 2 === 0 ? ids[(i * 7919 + s * 104729) % rows]! : BigInt(i) * 3n + 1n;
  return q;
});
const out = new Int32Array(batch);

function time(label: string, fn: (q: BigUint64Array) => void): void {
  for (let i = 0; i < 50; i++) fn(queries[i % 16]!);
  const ms: number[] = [];
  for (let i = 0; i < batches; i++) {
    const q = queries[i % 16]!;
    t0 = performance.now();
    fn(q);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(28)} p50 ${(quantile(ms, 0.5) * 1000).toFixed(0).padStart(6)} µs   p99 ${(quantile(ms, 0.99) * 1000).toFixed(0).padStart(6)} µs   per id ${((quantile(ms, 0.5) * 1e6) / batch).toFixed(0)} ns`,
  );
}

let found = 0;
index.lookup(queries[0]!, out).forEach((r) => (found += r >= 0 ? 1 : 0));
if (found !== batch / 2) throw new Error(`expected ${batch / 2} known ids, found ${found}`);

console.log(`rows ${rows}, batch ${batch}, batches ${batches}`);
console.log(
  `index: ids ${(ids.byteLength / 2 ** 20).toFixed(1)} MiB + slots ${(index.byteLength / 2 ** 20).toFixed(1)} MiB, build ${buildMs.toFixed(0)} ms`,
);
time('lookup(BigUint64Array)', (q) => index.lookup(q, out));
const asArrays = queries.map((q) => Array.from(q));
let k = 0;
time('lookup(bigint[])', () => index.lookup(asArrays[k++ % 16]!, out));
