import { describe, expect, it } from 'vitest';
import {
  decodeRankBinary,
  decodeRankBinaryResponse,
  encodeRankBinary,
  encodeRankBinaryRequest,
} from './binary.js';
import { ServeError } from './errors.js';

const dense = Float32Array.from([0.5, -1.25, 3]);
const categorical = BigInt64Array.from([-(2n ** 63n), 7n]);
const ids = BigUint64Array.from([2n ** 64n - 1n, 0n, 42n]);

describe('binary rank request', () => {
  it('round-trips, also from a body on an odd byteOffset (aligned copy)', () => {
    const body = encodeRankBinaryRequest(dense, categorical, ids);
    expect(body.length).toBe(24 + 16 + 16 + 24); // 3 floats padded to 16 bytes
    const backing = Buffer.alloc(body.length + 3);
    body.copy(backing, 3);
    for (const b of [body, backing.subarray(3)]) {
      const r = decodeRankBinary(b, { maxCandidates: 10 });
      expect(Array.from(r.dense)).toEqual([0.5, -1.25, 3]);
      expect(Array.from(r.categorical)).toEqual([-(2n ** 63n), 7n]);
      expect(Array.from(r.ids)).toEqual([2n ** 64n - 1n, 0n, 42n]);
    }
  });

  it('refuses more candidates than the limit, naming the field', () => {
    const body = encodeRankBinaryRequest(dense, categorical, ids);
    let err: unknown;
    try {
      decodeRankBinary(body, { maxCandidates: 2 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ServeError);
    expect((err as ServeError).field).toBe('numCandidates');
  });
});

describe('binary rank response', () => {
  it('aligns scores with the candidates, NaN for unknown positions', () => {
    // 2 tasks, 3 candidates, the middle one unknown: known scores are [task][known]
    const out = encodeRankBinary({
      model: 'm',
      modelVersion: 'v1',
      snapshotVersion: 's1',
      tasks: ['a', 'b'],
      numCandidates: 3,
      known: Float32Array.from([0.1, 0.3, 0.6, 0.8]),
      present: Int32Array.from([5, -1, 9]),
      unknownPositions: Uint32Array.from([1]),
    });
    const r = decodeRankBinaryResponse(out);
    expect(r.tasks).toEqual(['a', 'b']);
    expect(r.unknownPositions).toEqual([1]);
    expect(Array.from(r.scores[0]!)).toEqual([Math.fround(0.1), NaN, Math.fround(0.3)]);
    expect(Array.from(r.scores[1]!)).toEqual([Math.fround(0.6), NaN, Math.fround(0.8)]);
  });
});
