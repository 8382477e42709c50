// The ranking endpoint's JSON body, read with its candidate ids taken straight from the bytes.
// A 2,000-candidate body is ~46 KB, almost all of it the ids: JSON.parse made a string of each
// and parseIds read them back character by character, the largest costs of the JSON path's HTTP
// thread. Here the top-level `"candidates"` array is found in the bytes and its ids parsed from
// them into a BigUint64Array (the same arithmetic as parseIds, ids.ts); the rest of the body (the
// query, topK, tasks: a few hundred bytes) is JSON.parse'd as before, with the array replaced by
// a 0, and the parsed ids put in its place. The request schema takes the BigUint64Array as the
// already-parsed id list (schemas.ts, itemIdList), so the result is what the general path gives.
//
// Only the plain case takes this path: a UTF-8 body whose top-level object has one `candidates`
// key (no top-level key with an escape), holding 1..maxCandidates ids that are each a string of
// 1–20 digits below 2^64 or a plain JSON integer (digits only, no leading zero) below 2^53.
// Anything else — a bad id, an escape, an exponent, a duplicate key, malformed JSON — goes to the
// general path (decodeJsonText + parseJson, then parseIds in the schema), so every refusal and
// its message is the general path's own.
//
// API:
//   readRankJsonBody(bytes: Buffer, contentType: string | undefined, limits: { maxCandidates })
//     → unknown    the parsed body (`candidates` as a BigUint64Array when read fast); throws what
//                  decodeJsonText / parseJson throw
import { decodeJsonText, isUtf8Json, parseJson } from '../http-body.js';
import { storeDecimal } from '../ids.js';

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const ZERO = 48;
/** `candidates` as bytes */
const KEY = Buffer.from('candidates');

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

export function readRankJsonBody(
  bytes: Buffer,
  contentType: string | undefined,
  limits: { maxCandidates: number },
): unknown {
  const fast = isUtf8Json(contentType) ? readFast(bytes, limits.maxCandidates) : undefined;
  return fast ?? parseJson(decodeJsonText(bytes, contentType));
}

/** The fast path: the parsed body, or undefined for anything it does not take. */
function readFast(b: Buffer, maxCandidates: number): object | undefined {
  const n = b.length;
  let p = n >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0; // a UTF-8 BOM
  const start = p;
  while (p < n && isSpace(b[p]!)) p++;
  if (b[p] !== OPEN_BRACE) return undefined;
  p++;
  let arrayAt = -1;
  let arrayEnd = -1;
  let ids: BigUint64Array | undefined;
  for (;;) {
    while (p < n && isSpace(b[p]!)) p++;
    if (b[p] !== QUOTE) return undefined; // also `{}`: the general path says what is missing
    const keyAt = p + 1;
    p = keyAt;
    while (p < n && b[p] !== QUOTE) {
      if (b[p] === BACKSLASH) return undefined; // an escaped key could spell `candidates`
      p++;
    }
    if (p >= n) return undefined;
    const isCandidates = p - keyAt === KEY.length && b.compare(KEY, 0, KEY.length, keyAt, p) === 0;
    p++;
    while (p < n && isSpace(b[p]!)) p++;
    if (b[p] !== COLON) return undefined;
    p++;
    while (p < n && isSpace(b[p]!)) p++;
    if (isCandidates) {
      if (ids !== undefined || b[p] !== OPEN_BRACKET) return undefined; // a duplicate key; not an array
      arrayAt = p;
      const read = readIds(b, p, maxCandidates);
      if (read === undefined) return undefined;
      [ids, p] = read;
      arrayEnd = p;
    } else {
      p = skipValue(b, p);
      if (p < 0) return undefined;
    }
    while (p < n && isSpace(b[p]!)) p++;
    if (b[p] === COMMA) {
      p++;
      continue;
    }
    if (b[p] === CLOSE_BRACE) break;
    return undefined;
  }
  if (ids === undefined) return undefined;
  // The rest of the body, with the array as a 0: whatever JSON.parse or the key check refuses
  // there is refused by the general path too, with its own message (positions included).
  const text = b.toString('utf8', start, arrayAt) + '0' + b.toString('utf8', arrayEnd);
  let body: { candidates?: unknown };
  try {
    body = parseJson(text) as { candidates?: unknown };
  } catch {
    return undefined;
  }
  body.candidates = ids;
  return body;
}

/** 10^0 … 10^10 */
const POW10 = Array.from({ length: 11 }, (_, i) => 10 ** i);
/** Where readIds writes (grown as needed; each request's ids are copied out of it). */
let scratch = new BigUint64Array(4096);

/**
 * The id array starting at `p` ('['): its ids and the position after its ']', or undefined when
 * it is not 1..max plain ids (see the module header) or not well-formed. Each digit is read
 * once: a string's first ten digits into x1, the rest (up to ten more, k2 of them) into x2, so
 * the id is x1·10^k2 + x2, which is split into the a·10^10 + b that storeDecimal takes.
 */
function readIds(body: Buffer, at: number, max: number): [BigUint64Array, number] | undefined {
  const b = new Uint8Array(body.buffer, body.byteOffset, body.length);
  const n = b.length;
  // an id takes at least two bytes with its separator
  const capacity = Math.min(max, (n - at) >> 1);
  if (scratch.length < capacity) scratch = new BigUint64Array(capacity);
  const words = new Uint32Array(scratch.buffer, 0, 2 * capacity);
  let count = 0;
  let p = at + 1; // after '['
  for (;;) {
    while (p < n && isSpace(b[p]!)) p++;
    if (count === capacity || p >= n) return undefined; // past the limit: the general path says so
    const c = b[p]!;
    if (c === QUOTE) {
      // a string of 1..20 digits
      p++;
      const from = p;
      let x1 = 0;
      let d = 0;
      const end1 = Math.min(n, p + 10);
      while (p < end1 && (d = b[p]! - ZERO) >>> 0 <= 9) {
        x1 = x1 * 10 + d;
        p++;
      }
      const k1 = p - from;
      let x2 = 0;
      if (k1 === 10) {
        const end2 = Math.min(n, p + 10);
        while (p < end2 && (d = b[p]! - ZERO) >>> 0 <= 9) {
          x2 = x2 * 10 + d;
          p++;
        }
      }
      if (k1 === 0 || p >= n || b[p] !== QUOTE) return undefined; // empty, 21+ digits, not digits
      const k2 = p - from - k1;
      p++;
      let hi = 0;
      let lo = x1;
      if (k2 > 0) {
        const s = POW10[10 - k2]!;
        hi = Math.floor(x1 / s);
        lo = (x1 - hi * s) * POW10[k2]! + x2;
      }
      if (!storeDecimal(hi, lo, words, count)) return undefined;
    } else if ((c - ZERO) >>> 0 <= 9) {
      // a JSON integer: digits only, no leading zero, a safe integer
      const from = p;
      let v = 0;
      let d = 0;
      while (p < n && (d = b[p]! - ZERO) >>> 0 <= 9) {
        v = v * 10 + d;
        p++;
      }
      if ((c === ZERO && p - from > 1) || v > Number.MAX_SAFE_INTEGER || p >= n) return undefined;
      const next = b[p]!;
      if (next !== COMMA && next !== CLOSE_BRACKET && !isSpace(next)) return undefined;
      const high = Math.floor(v / 4294967296);
      words[2 * count] = v - high * 4294967296;
      words[2 * count + 1] = high;
    } else {
      return undefined;
    }
    count++;
    while (p < n && isSpace(b[p]!)) p++;
    if (p >= n) return undefined;
    if (b[p] === COMMA) {
      p++;
      continue;
    }
    if (b[p] !== CLOSE_BRACKET) return undefined;
    return [scratch.slice(0, count), p + 1];
  }
}

/**
 * Skips the JSON value at `p`: the position after it, or −1 at the end of the body. Only the
 * value's extent is found (strings with their escapes, nesting); JSON.parse checks the rest.
 */
function skipValue(b: Buffer, p: number): number {
  const n = b.length;
  let depth = 0;
  while (p < n) {
    const c = b[p]!;
    if (c === QUOTE) {
      p++;
      while (p < n && b[p] !== QUOTE) p += b[p] === BACKSLASH ? 2 : 1;
      if (p >= n) return -1;
      p++;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      p++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth === 0) return p; // the enclosing object's end
      depth--;
      p++;
    } else if (depth === 0 && (c === COMMA || isSpace(c))) {
      return p;
    } else {
      p++;
    }
    if (depth === 0 && (c === QUOTE || c === CLOSE_BRACE || c === CLOSE_BRACKET)) return p;
  }
  return -1;
}
