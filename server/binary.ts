// The compact binary encoding of the ranking endpoint (content type RANK_BINARY_TYPE): raw
// little-endian tensors instead of JSON, so 2,000 ids in and 4,000 scores out cost a few
// memory copies instead of text parsing and number formatting. Layouts (server/README.md):
//
//   request  (all little-endian, total length exact):
//     0  magic "LRQ1"            4  version u32 = 1
//     8  numDense u32           12  numCategorical u32
//    16  numCandidates u32      20  reserved u32 = 0
//    24  dense f32[numDense], zero-padded to a multiple of 8 bytes
//        categorical i64[numCategorical]
//        candidates u64[numCandidates]
//   response:
//     0  magic "LRS1"            4  version u32 = 1
//     8  numTasks u32           12  numCandidates u32
//    16  numUnknown u32         20  headerBytes u32
//    24  scores f32[numTasks][numCandidates] (NaN where the id is unknown)
//        unknown positions u32[numUnknown] (indices into the request's candidates, ascending)
//        header: UTF-8 JSON { model, modelVersion, snapshotVersion, tasks }
//
// Decoding checks only the encoding itself (magic, version, sizes, limits, finite floats); the
// dataplane checks widths against the loaded model. Typed-array views are taken on the body
// where it is 8-byte aligned, else on an aligned copy.
//
// API:
//   RANK_BINARY_TYPE
//   decodeRankBinary(body: Buffer, limits: { maxCandidates }) → BinaryRankRequest (throws 400s)
//   encodeRankBinary(res: BinaryRankResponse) → Buffer
import { invalidArgument } from './errors.js';

export const RANK_BINARY_TYPE = 'application/vnd.lightrank.rank.v1+binary';

const REQUEST_MAGIC = 0x3151524c; // "LRQ1" read as u32 LE
const RESPONSE_MAGIC = 0x3153524c; // "LRS1"
const VERSION = 1;
const HEADER_BYTES = 24;
/** Widths the JSON schema allows too. */
const MAX_FEATURES = 4096;
const FLOAT32_MAX = 3.4028234663852886e38;

export interface BinaryRankRequest {
  dense: Float32Array;
  categorical: BigInt64Array;
  /** a view on the request body (or its aligned copy); read-only use */
  ids: BigUint64Array;
}

export interface BinaryRankResponse {
  model: string;
  modelVersion: string;
  snapshotVersion: string;
  tasks: string[];
  numCandidates: number;
  /** [tasks][candidates] scores of the known candidates, in request order, task-major */
  known: Float32Array;
  /** per candidate: ≥ 0 when known, < 0 when unknown */
  present: Int32Array;
  unknownPositions: Uint32Array;
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** A copy in its own ArrayBuffer (offset 0; Buffer.from may land at any offset of a pool). */
function alignedCopy(b: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(b.length);
  b.copy(copy);
  return copy;
}

export function decodeRankBinary(body: Buffer, limits: { maxCandidates: number }): BinaryRankRequest {
  if (body.length < HEADER_BYTES)
    throw invalidArgument(
      'body',
      `binary request of ${body.length} bytes is shorter than its ${HEADER_BYTES}-byte header`,
    );
  const magic = body.readUInt32LE(0);
  if (magic !== REQUEST_MAGIC)
    throw invalidArgument('magic', `expected "LRQ1", got 0x${magic.toString(16).padStart(8, '0')}`);
  const version = body.readUInt32LE(4);
  if (version !== VERSION)
    throw invalidArgument('version', `unsupported version ${version}; expected ${VERSION}`);
  const numDense = body.readUInt32LE(8);
  const numCategorical = body.readUInt32LE(12);
  const numCandidates = body.readUInt32LE(16);
  if (numDense > MAX_FEATURES) throw invalidArgument('numDense', `at most ${MAX_FEATURES}, got ${numDense}`);
  if (numCategorical > MAX_FEATURES)
    throw invalidArgument('numCategorical', `at most ${MAX_FEATURES}, got ${numCategorical}`);
  if (numCandidates < 1) throw invalidArgument('numCandidates', 'expected at least 1 candidate');
  if (numCandidates > limits.maxCandidates)
    throw invalidArgument(
      'numCandidates',
      `at most ${limits.maxCandidates} candidates per request, got ${numCandidates}`,
    );
  if (body.readUInt32LE(20) !== 0) throw invalidArgument('reserved', 'must be 0');
  const denseAt = HEADER_BYTES;
  const catAt = denseAt + pad8(numDense * 4);
  const idsAt = catAt + numCategorical * 8;
  const expected = idsAt + numCandidates * 8;
  if (body.length !== expected) {
    throw invalidArgument(
      'body',
      `expected ${expected} bytes for ${numDense} dense, ${numCategorical} categorical, ${numCandidates} candidates; got ${body.length}`,
    );
  }
  for (let i = denseAt + numDense * 4; i < catAt; i++)
    if (body[i] !== 0) throw invalidArgument('padding', 'dense padding bytes must be 0');
  const aligned = body.byteOffset % 8 === 0 ? body : alignedCopy(body);
  const buf = aligned.buffer;
  const base = aligned.byteOffset;
  // dense and categorical are copied (small; the batcher may hand them to a worker)
  const dense = new Float32Array(buf, base + denseAt, numDense).slice();
  for (let i = 0; i < numDense; i++) {
    const x = dense[i]!;
    if (!Number.isFinite(x) || Math.abs(x) > FLOAT32_MAX)
      throw invalidArgument(`query.dense[${i}]`, 'expected a finite float32 number');
  }
  return {
    dense,
    categorical: new BigInt64Array(buf, base + catAt, numCategorical).slice(),
    ids: new BigUint64Array(buf, base + idsAt, numCandidates),
  };
}

export function encodeRankBinary(res: BinaryRankResponse): Buffer {
  const header = Buffer.from(
    JSON.stringify({
      model: res.model,
      modelVersion: res.modelVersion,
      snapshotVersion: res.snapshotVersion,
      tasks: res.tasks,
    }),
  );
  const n = res.numCandidates;
  const t = res.tasks.length;
  const k = res.known.length / Math.max(1, t);
  const scoresAt = HEADER_BYTES;
  const unknownAt = scoresAt + t * n * 4;
  const headerAt = unknownAt + res.unknownPositions.length * 4;
  const out = Buffer.allocUnsafeSlow(headerAt + header.length); // own ArrayBuffer, offset 0
  out.writeUInt32LE(RESPONSE_MAGIC, 0);
  out.writeUInt32LE(VERSION, 4);
  out.writeUInt32LE(t, 8);
  out.writeUInt32LE(n, 12);
  out.writeUInt32LE(res.unknownPositions.length, 16);
  out.writeUInt32LE(header.length, 20);
  const scores = new Float32Array(out.buffer, scoresAt, t * n);
  if (res.unknownPositions.length === 0) {
    scores.set(res.known.subarray(0, t * n));
  } else {
    for (let ti = 0; ti < t; ti++) {
      const src = res.known.subarray(ti * k, (ti + 1) * k);
      const dst = ti * n;
      for (let i = 0, j = 0; i < n; i++) scores[dst + i] = res.present[i]! >= 0 ? src[j++]! : NaN;
    }
  }
  new Uint32Array(out.buffer, unknownAt, res.unknownPositions.length).set(res.unknownPositions);
  header.copy(out, headerAt);
  return out;
}

/** Reads a binary response (for clients and tests). */
export function decodeRankBinaryResponse(body: Buffer): {
  model: string;
  modelVersion: string;
  snapshotVersion: string;
  tasks: string[];
  scores: Float32Array[];
  unknownPositions: number[];
} {
  const b = body.byteOffset % 4 === 0 ? body : alignedCopy(body);
  if (b.readUInt32LE(0) !== RESPONSE_MAGIC || b.readUInt32LE(4) !== VERSION)
    throw new Error('not a lightrank binary rank response (magic/version)');
  const t = b.readUInt32LE(8);
  const n = b.readUInt32LE(12);
  const u = b.readUInt32LE(16);
  const h = b.readUInt32LE(20);
  const unknownAt = HEADER_BYTES + t * n * 4;
  const headerAt = unknownAt + u * 4;
  if (b.length !== headerAt + h)
    throw new Error(`binary rank response: ${b.length} bytes, expected ${headerAt + h}`);
  const head = JSON.parse(b.subarray(headerAt).toString('utf8'));
  return {
    ...head,
    scores: Array.from(
      { length: t },
      (_, i) => new Float32Array(b.buffer, b.byteOffset + HEADER_BYTES + i * n * 4, n),
    ),
    unknownPositions: Array.from(new Uint32Array(b.buffer, b.byteOffset + unknownAt, u)),
  };
}

/** Builds a binary request (for clients, tests and the benchmark). */
export function encodeRankBinaryRequest(
  dense: Float32Array,
  categorical: BigInt64Array,
  ids: BigUint64Array,
): Buffer {
  const catAt = HEADER_BYTES + pad8(dense.length * 4);
  const idsAt = catAt + categorical.length * 8;
  const out = Buffer.alloc(idsAt + ids.length * 8);
  out.writeUInt32LE(REQUEST_MAGIC, 0);
  out.writeUInt32LE(VERSION, 4);
  out.writeUInt32LE(dense.length, 8);
  out.writeUInt32LE(categorical.length, 12);
  out.writeUInt32LE(ids.length, 16);
  new Float32Array(out.buffer, out.byteOffset + HEADER_BYTES, dense.length).set(dense);
  new BigInt64Array(out.buffer, out.byteOffset + catAt, categorical.length).set(categorical);
  new BigUint64Array(out.buffer, out.byteOffset + idsAt, ids.length).set(ids);
  return out;
}
