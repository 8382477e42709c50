// Weighted choice among a segment's backends: per request an unbiased random draw over the integer
// weights (crypto.randomInt rejects out-of-range values, so no modulo bias), or, given a sticky key, a
// deterministic bucket from its hash so the same caller keeps landing on the same track.
import { randomInt } from 'node:crypto';

export interface Weighted<T> {
  readonly item: T;
  readonly weight: number;
}

export class WeightedChoice<T> {
  private readonly items: readonly T[];
  /** upper[i]: exclusive upper bound of item i's bucket range; buckets are [0, total). */
  private readonly upper: readonly number[];
  readonly total: number;

  constructor(entries: readonly Weighted<T>[]) {
    let acc = 0;
    const items: T[] = [];
    const upper: number[] = [];
    for (const e of entries) {
      if (!Number.isInteger(e.weight) || e.weight < 0)
        throw new Error(`weight must be an integer ≥ 0, got ${e.weight}`);
      if (e.weight === 0) continue;
      acc += e.weight;
      items.push(e.item);
      upper.push(acc);
    }
    if (acc === 0) throw new Error('at least one weight must be > 0');
    this.items = items;
    this.upper = upper;
    this.total = acc;
  }

  /** The item for bucket b in [0, total); buckets run in entry order, so earlier entries own the low ones. */
  at(bucket: number): T {
    let i = 0;
    while (i < this.upper.length - 1 && bucket >= this.upper[i]!) i++;
    return this.items[i]!;
  }

  /** A random pick, each item with probability weight / total. */
  pick(): T {
    return this.at(randomInt(this.total));
  }

  /** A deterministic pick for a sticky key (bucket = 32-bit FNV-1a hash mod total). */
  pickSticky(key: string): T {
    return this.at(fnv1a32(key) % this.total);
  }
}

/** FNV-1a over the string's UTF-16 code units; 32-bit, so `mod 100` is biased by under 1e-7. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
