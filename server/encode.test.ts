// encodeRankResponse writes valid JSON equal (within 5e-10) to what JSON.stringify would write.
import { describe, expect, it } from 'vitest';
import type { RankResponse } from './encode.js';
import { encodeRankResponse, type EncodableRankResponse } from './encode.js';

describe('encodeRankResponse', () => {
  it('round-trips aligned scores with nulls, edge values and top-K lists', () => {
    const known = [0.5, 0.0009, 0.001, 0.9999999999, 1, 0, 1e-12, 0.123456789, Math.fround(0.7)];
    const present = Int32Array.from([0, 1, 2, -1, 3, 4, 5, 6, -1, 7, 8]);
    const res: EncodableRankResponse = {
      model: 'm',
      modelVersion: 'v"1',
      snapshotVersion: 's',
      tasks: ['ctr', 'good_click'],
      scores: {
        ctr: { values: Float32Array.from(known), present },
        good_click: { values: Float32Array.from([0.25]), present: Int32Array.from([-1, 0]) },
      },
      topK: { ctr: [{ id: '18446744073709551615', score: 0.75 }] },
      unknownIds: ['1'],
    };
    const back = JSON.parse(encodeRankResponse(res).toString('utf8')) as RankResponse;
    expect({ ...back, scores: undefined }).toEqual({ ...res, scores: undefined });
    const f32 = Float32Array.from(known);
    let j = 0;
    back.scores!.ctr!.forEach((v, i) => {
      if (present[i]! < 0) return expect(v).toBeNull();
      expect(Math.abs((v as number) - f32[j++]!)).toBeLessThanOrEqual(5e-10);
    });
    expect(back.scores!.good_click).toEqual([null, 0.25]);
  });
});
