// Fast parsing of 64-bit item ids from JSON (decimal strings or safe integers) straight into
// the little-endian (lo, hi) uint32 words of a BigUint64Array, without a BigInt per id: a
// ranking request carries thousands of ids and BigInt(string) dominated its decode time.
// A string is read as two ≤ 10-digit halves (exact doubles) combined in 32-bit limbs.
// (The snapshot's IdIndex reads BigUint64Array ids as such word pairs too.)
//
// It is also the only check of the ids: the request schema (schemas.ts, itemIdList) calls it, so
// thousands of candidates are checked and parsed in one pass, with a message for the first bad one.
//
// API:
//   parseIds(values: readonly unknown[]) → BigUint64Array | { index: number; message: string }
//     the ids, or the first value that is not one (not a digit string or a non-negative safe
//     integer, or beyond 2^64 − 1) with what is wrong with it
//   storeDecimal(a, b, words, i) → boolean   the id a·10^10 + b into words[2i], words[2i + 1]
//     (also used by codecs/rank-json-body.ts, which reads ids from the body's bytes)
const TWO16 = 65536;
const TWO32 = 4294967296;
const TEN10 = 1e10;

const NOT_DIGITS = 'expected an unsigned 64-bit id as a decimal string';

function numberProblem(v: number): string {
  if (!Number.isInteger(v)) return 'expected an integer id';
  if (v < 0) return 'ids are unsigned';
  return 'ids beyond 2^53 must be sent as decimal strings';
}

/**
 * Stores the id a·10^10 + b (a, b < 10^10: the leading digits and the last ten) as its (lo, hi)
 * words at id position i; false (nothing stored) when it is beyond 2^64 − 1. Exact: every
 * intermediate stays below 2^53.
 */
export function storeDecimal(a: number, b: number, words: Uint32Array, i: number): boolean {
  // a = aH·2^16 + aL keeps every product below 2^53.
  const aH = Math.floor(a / TWO16);
  const t = (a - aH * TWO16) * TEN10 + b; // aL·10^10 + b
  const u = aH * TEN10; // value = u·2^16 + t
  const uH = Math.floor(u / TWO16);
  const low = (u - uH * TWO16) * TWO16 + t;
  const carry = Math.floor(low / TWO32);
  const hi = uH + carry;
  if (hi >= TWO32) return false;
  words[2 * i] = low - carry * TWO32;
  words[2 * i + 1] = hi;
  return true;
}

export function parseIds(values: readonly unknown[]): BigUint64Array | { index: number; message: string } {
  const out = new BigUint64Array(values.length);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let lo: number;
    let hi: number;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) return { index: i, message: numberProblem(v) };
      hi = Math.floor(v / TWO32);
      lo = v - hi * TWO32;
    } else if (typeof v === 'string' && v.length > 0 && v.length <= 20) {
      // v = a·10^10 + b: a from the leading digits, b from the last ten (each < 10^10, exact).
      const n = v.length;
      const split = n > 10 ? n - 10 : 0;
      // two loops (no branch on the position); `bad` collects every digit's range check: a code
      // below '0' wraps to a large unsigned number too
      let a = 0;
      let b = 0;
      let bad = 0;
      for (let j = 0; j < split; j++) {
        const d = v.charCodeAt(j) - 48;
        bad |= d >>> 0 > 9 ? 1 : 0;
        a = a * 10 + d;
      }
      for (let j = split; j < n; j++) {
        const d = v.charCodeAt(j) - 48;
        bad |= d >>> 0 > 9 ? 1 : 0;
        b = b * 10 + d;
      }
      if (bad !== 0) return { index: i, message: NOT_DIGITS };
      if (!storeDecimal(a, b, words, i)) return { index: i, message: 'outside the unsigned 64-bit range' };
      continue;
    } else if (typeof v === 'string') {
      return { index: i, message: NOT_DIGITS };
    } else {
      return { index: i, message: 'expected an item id (a decimal string or a safe integer)' };
    }
    words[2 * i] = lo;
    words[2 * i + 1] = hi;
  }
  return out;
}
