// encodeRankResponse writes valid JSON equal (within 5e-10) to what JSON.stringify would write.
import { describe, expect, it } from 'vitest';
import type { RankResponse } from './dataplane.js';
import { encodeRankResponse } from './encode.js';

describe('encodeRankResponse', () => {
  it('round-trips scores, nulls, edge values and top-K lists', () => {
    const values = [0.5, 0.0009, 0.001, 0.9999999999, 1, 0, 1e-12, null, 0.123456789, Math.fround(0.7)];
    const res: RankResponse = {
      model: 'm',
      modelVersion: 'v"1',
      snapshotVersion: 's',
      tasks: ['ctr', 'good_click'],
      scores: { ctr: values, good_click: [0.25] },
      topK: { ctr: [{ id: '18446744073709551615', score: 0.75 }] },
      unknownIds: ['1'],
    };
    const back = JSON.parse(encodeRankResponse(res).toString('utf8')) as RankResponse;
    expect({ ...back, scores: undefined }).toEqual({ ...res, scores: undefined });
    back.scores!.ctr!.forEach((v, i) => {
      const want = values[i]!;
      if (want === null) expect(v).toBeNull();
      else expect(Math.abs((v as number) - want)).toBeLessThanOrEqual(5e-10);
    });
    expect(back.scores!.good_click).toEqual([0.25]);
  });
});
