// Item id → row lookup for a snapshot, in typed arrays only (no JS Map of millions of entries):
// an open-addressing hash table (linear probing, load ≤ 0.5) of Int32 row numbers, keyed by the
// ids themselves, read as (lo, hi) uint32 pairs so lookups do no BigInt arithmetic.
// Memory: the ids (8 bytes/row, shared with the caller) + 4 × 2^⌈log2(2·rows)⌉ bytes of slots
// (1M rows → 8 MiB ids + 8 MiB slots).
//
// API:
//   class IdIndex {
//     static build(ids: BigUint64Array): IdIndex         throws SnapshotError duplicate_ids
//     readonly size: number; readonly ids: BigUint64Array; readonly byteLength: number
//     rowOf(id: bigint): number                           -1 when unknown
//     lookup(ids: BigUint64Array | readonly bigint[], out?: Int32Array): Int32Array   -1 per unknown id
//   }
import { SnapshotError } from './errors.js';

const MAX_U64 = 0xffffffffffffffffn;

function mix(lo: number, hi: number): number {
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class IdIndex {
  readonly ids: BigUint64Array;
  readonly size: number;
  private readonly words: Uint32Array; // ids as little-endian (lo, hi) pairs
  private readonly slots: Int32Array; // row + 1, 0 = empty
  private readonly mask: number;

  private constructor(ids: BigUint64Array, slots: Int32Array) {
    this.ids = ids;
    this.size = ids.length;
    this.words = new Uint32Array(ids.buffer, ids.byteOffset, ids.length * 2);
    this.slots = slots;
    this.mask = slots.length - 1;
  }

  static build(ids: BigUint64Array): IdIndex {
    let capacity = 16;
    while (capacity < ids.length * 2) capacity *= 2;
    const index = new IdIndex(ids, new Int32Array(capacity));
    index.fill();
    return index;
  }

  /** Bytes of the index beyond the ids array. */
  get byteLength(): number {
    return this.slots.byteLength;
  }

  private fill(): void {
    const { words, slots, mask } = this;
    for (let row = 0; row < this.size; row++) {
      const lo = words[2 * row]!;
      const hi = words[2 * row + 1]!;
      let s = mix(lo, hi) & mask;
      for (;;) {
        const held = slots[s]!;
        if (held === 0) {
          slots[s] = row + 1;
          break;
        }
        const other = held - 1;
        if (words[2 * other] === lo && words[2 * other + 1] === hi) {
          throw new SnapshotError(
            'duplicate_ids',
            `item id ${this.ids[row]} appears on rows ${other} and ${row}`,
            'ids.u64',
          );
        }
        s = (s + 1) & mask;
      }
    }
  }

  private find(lo: number, hi: number): number {
    const { words, slots, mask } = this;
    let s = mix(lo, hi) & mask;
    for (;;) {
      const held = slots[s]!;
      if (held === 0) return -1;
      const row = held - 1;
      if (words[2 * row] === lo && words[2 * row + 1] === hi) return row;
      s = (s + 1) & mask;
    }
  }

  rowOf(id: bigint): number {
    return this.lookup([id], new Int32Array(1))[0]!;
  }

  lookup(ids: BigUint64Array | readonly bigint[], out: Int32Array = new Int32Array(ids.length)): Int32Array {
    if (out.length < ids.length)
      throw new RangeError(`IdIndex.lookup: out holds ${out.length} < ${ids.length}`);
    if (ids instanceof BigUint64Array) {
      const w = new Uint32Array(ids.buffer, ids.byteOffset, ids.length * 2);
      for (let i = 0; i < ids.length; i++) out[i] = this.find(w[2 * i]!, w[2 * i + 1]!);
    } else {
      // Storing into a BigUint64Array is cheaper than BigInt shifts; out-of-range ids would
      // wrap there, so they are answered -1 first.
      const one = new BigUint64Array(1);
      const w = new Uint32Array(one.buffer);
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        if (id < 0n || id > MAX_U64) {
          out[i] = -1;
        } else {
          one[0] = id;
          out[i] = this.find(w[0]!, w[1]!);
        }
      }
    }
    return out;
  }
}
