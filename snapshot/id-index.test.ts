// IdIndex: every stored id maps to its row, ids differing only in their high or low word are
// told apart, probing wraps around the end of the slot table, duplicates are refused.
import { describe, expect, it } from 'vitest';
import { SnapshotError } from './errors.js';
import { IdIndex } from './id-index.js';

describe('IdIndex', () => {
  it('finds every row and answers -1 for ids that share one word with a stored id', () => {
    const n = 3000;
    const ids = new BigUint64Array(n).map((_, i) => (BigInt(i % 7) << 32n) | BigInt(i * 2654435761 + 1));
    const index = IdIndex.build(ids);
    expect(Array.from(index.lookup(ids))).toEqual(Array.from({ length: n }, (_, i) => i));
    const sameLo = ids.map((id) => id ^ (1n << 45n)); // high word differs
    const sameHi = ids.map((id) => id ^ 1n); // low word differs
    expect(index.lookup(sameLo).every((r) => r === -1)).toBe(true);
    expect(index.lookup(sameHi).every((r) => r === -1)).toBe(true);
    expect(index.lookup([ids[42]!, 2n ** 64n, -1n, 0xffffffffffffffffn])).toEqual(
      Int32Array.from([42, -1, -1, -1]),
    );
    expect(index.byteLength).toBe(8192 * 16); // 2^⌈log2(2·3000)⌉ slots of 16 bytes
  });

  it('wraps probes around the end of a full-ish table', () => {
    // 8 ids in 16 slots: every slot sequence is short, and some start near the end.
    for (let seed = 0; seed < 50; seed++) {
      const ids = new BigUint64Array(8).map(
        (_, i) => (BigInt(seed * 1000 + i) * 0x9e3779b97f4a7c15n) % 2n ** 64n,
      );
      const index = IdIndex.build(ids);
      expect(Array.from(index.lookup(ids))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      const absent = ids.map((id) => id ^ (1n << 63n)).filter((id) => !ids.includes(id));
      expect(index.lookup(absent).every((r) => r === -1)).toBe(true);
    }
  });

  it('refuses duplicate ids naming both rows', () => {
    const ids = new BigUint64Array([5n, 1n << 40n, 9n, 1n << 40n]);
    expect(() => IdIndex.build(ids)).toThrow(SnapshotError);
    expect(() => IdIndex.build(ids)).toThrow(/rows 1 and 3/);
  });
});
