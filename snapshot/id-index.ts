// Item id → row lookup for a snapshot, in typed arrays only (no JS Map of millions of entries):
// an open-addressing hash table (linear probing, load ≤ 0.5) whose 16-byte slots hold the id
// itself as (lo, hi) uint32 words and its row + 1, so lookups do no BigInt arithmetic and a probe
// touches one cache line (four slots). In a server the index is cold for every request (the
// inference threads sweep the caches), so that line is a memory access: keeping the key in the
// slot, rather than a row number to check against the ids array, halves those accesses.
// Memory: the ids (8 bytes/row, shared with the caller) + 16 × 2^⌈log2(2·rows)⌉ bytes of slots
// (1M rows → 8 MiB ids + 32 MiB slots; the 1M-row float32 matrix of 2 × 64 dims is 512 MiB).
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
/** uint32 words per slot: id lo, id hi, row + 1 (0 = empty), unused (16-byte alignment) */
const SLOT = 4;
/** Ids whose slots are touched ahead of probing them (see lookup). */
const PREFETCH = 256;
/** The first slot of each id of lookup's current PREFETCH group (scratch, one per thread). */
const FIRST_SLOTS = new Int32Array(PREFETCH);

function mix(lo: number, hi: number): number {
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class IdIndex {
  readonly ids: BigUint64Array;
  readonly size: number;
  private readonly slots: Uint32Array; // SLOT words per slot
  private readonly mask: number; // slot count − 1
  /** keeps the prefetch loads of lookup() from being optimised away */
  private touched = 0;

  private constructor(ids: BigUint64Array, capacity: number) {
    this.ids = ids;
    this.size = ids.length;
    this.slots = new Uint32Array(capacity * SLOT);
    this.mask = capacity - 1;
  }

  static build(ids: BigUint64Array): IdIndex {
    let capacity = 16;
    while (capacity < ids.length * 2) capacity *= 2;
    const index = new IdIndex(ids, capacity);
    index.fill();
    return index;
  }

  /** Bytes of the index beyond the ids array. */
  get byteLength(): number {
    return this.slots.byteLength;
  }

  private fill(): void {
    const { slots, mask } = this;
    const words = new Uint32Array(this.ids.buffer, this.ids.byteOffset, this.size * 2);
    for (let row = 0; row < this.size; row++) {
      const lo = words[2 * row]!;
      const hi = words[2 * row + 1]!;
      let at = (mix(lo, hi) & mask) * SLOT;
      for (;;) {
        const held = slots[at + 2]!;
        if (held === 0) {
          slots[at] = lo;
          slots[at + 1] = hi;
          slots[at + 2] = row + 1;
          break;
        }
        if (slots[at] === lo && slots[at + 1] === hi) {
          throw new SnapshotError(
            'duplicate_ids',
            `item id ${this.ids[row]} appears on rows ${held - 1} and ${row}`,
            'ids.u64',
          );
        }
        at = (at + SLOT) & (mask * SLOT + SLOT - 1);
      }
    }
  }

  private find(lo: number, hi: number): number {
    return this.probe(lo, hi, (mix(lo, hi) & this.mask) * SLOT);
  }

  /** The row of id (lo, hi), probing from its first slot `at` (a word offset); -1 when absent. */
  private probe(lo: number, hi: number, at: number): number {
    const { slots, mask } = this;
    const wrap = mask * SLOT + SLOT - 1;
    for (;;) {
      const held = slots[at + 2]!;
      if (held === 0) return -1;
      if (slots[at] === lo && slots[at + 1] === hi) return held - 1;
      at = (at + SLOT) & wrap;
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
      const { slots, mask } = this;
      const first = FIRST_SLOTS;
      for (let from = 0; from < ids.length; from += PREFETCH) {
        const to = Math.min(ids.length, from + PREFETCH);
        // Touch each id's first slot without branching on it: the loads are independent, so the
        // CPU overlaps their cache misses; the probes below then mostly hit the cache, starting
        // from the slot computed here.
        let touched = 0;
        for (let i = from; i < to; i++) {
          const at = (mix(w[2 * i]!, w[2 * i + 1]!) & mask) * SLOT;
          first[i - from] = at;
          touched |= slots[at + 2]!;
        }
        this.touched = touched;
        for (let i = from; i < to; i++) out[i] = this.probe(w[2 * i]!, w[2 * i + 1]!, first[i - from]!);
      }
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
