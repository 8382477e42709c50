// Fast parsing of 64-bit item ids from JSON (decimal strings or safe integers) straight into
// the little-endian (lo, hi) uint32 words of a BigUint64Array, without a BigInt per id: a
// ranking request carries thousands of ids and BigInt(string) dominated its decode time.
// (The snapshot's IdIndex reads BigUint64Array ids as such word pairs too.)
//
// API:
//   parseIds(values: readonly (string | number)[]) → BigUint64Array | { index: number }
//     the ids, or the index of the first value that is not an unsigned 64-bit id
const TWO32 = 4294967296;

export function parseIds(values: readonly (string | number)[]): BigUint64Array | { index: number } {
  const out = new BigUint64Array(values.length);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let lo = 0;
    let hi = 0;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) return { index: i };
      hi = Math.floor(v / TWO32);
      lo = v - hi * TWO32;
    } else if (typeof v === 'string') {
      const n = v.length;
      if (n === 0 || n > 20) return { index: i };
      for (let j = 0; j < n; j++) {
        const d = v.charCodeAt(j) - 48;
        if (d < 0 || d > 9) return { index: i };
        const l = lo * 10 + d; // < 2^36: exact in a double
        const carry = Math.floor(l / TWO32);
        lo = l - carry * TWO32;
        hi = hi * 10 + carry;
        if (hi >= TWO32) return { index: i }; // beyond 2^64 - 1
      }
    } else {
      return { index: i };
    }
    words[2 * i] = lo;
    words[2 * i + 1] = hi;
  }
  return out;
}
