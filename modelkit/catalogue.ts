// Seeded synthetic features and ids for tests, demos and benchmarks. Row i's features depend
// only on (seed, start + i), so a catalogue generated in batches equals one generated at once.
// Item ids are 64-bit, distinct and not contiguous (splitmix64 of a counter, a bijection).
//
// API:
//   generateFeatures(shape: { numDense: number; numCategorical: number }, count: number,
//                    seed: number, start?: number): { dense: Float32Array; categorical: BigInt64Array }
//     dense ∈ [-1, 1); categorical ∈ [0, 1e6)  (towers take ids mod their vocab)
//   generateItemIds(count: number, seed: number, start?: number): BigUint64Array
import { mulberry32 } from './weights.js';

const MASK64 = (1n << 64n) - 1n;

function splitmix64(x: bigint): bigint {
  let z = (x + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

export function generateItemIds(count: number, seed: number, start = 0): BigUint64Array {
  const ids = new BigUint64Array(count);
  const base = (BigInt(seed) << 40n) & MASK64;
  for (let i = 0; i < count; i++) ids[i] = splitmix64((base + BigInt(start + i)) & MASK64);
  return ids;
}

export function generateFeatures(
  shape: { numDense: number; numCategorical: number },
  count: number,
  seed: number,
  start = 0,
): { dense: Float32Array; categorical: BigInt64Array } {
  const dense = new Float32Array(count * shape.numDense);
  const categorical = new BigInt64Array(count * shape.numCategorical);
  for (let i = 0; i < count; i++) {
    const rand = mulberry32(Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2f) ^ (start + i));
    for (let j = 0; j < shape.numDense; j++) dense[i * shape.numDense + j] = rand() * 2 - 1;
    for (let j = 0; j < shape.numCategorical; j++) {
      categorical[i * shape.numCategorical + j] = BigInt(Math.floor(rand() * 1e6));
    }
  }
  return { dense, categorical };
}
