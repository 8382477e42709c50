// encodeRankResponse writes valid JSON equal (within 5e-10) to what JSON.stringify would write.
import { describe, expect, it } from 'vitest';
import type { RankResponse } from './encode.js';
import { encodeRankResponse, type EncodableRankResponse } from './encode.js';

/** One task, `ctr`, with these scores, encoded; the answer's text. */
function encodeCtr(values: Float32Array, present: Int32Array): string {
  return encodeRankResponse({
    model: 'm',
    modelVersion: 'v',
    snapshotVersion: 's',
    tasks: ['ctr'],
    unknownIds: [],
    scores: { ctr: { values, present } },
  }).toString('latin1');
}

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

  it('writes every score of a dense sweep of [0.001, 1) within 5e-10, with nine decimals', () => {
    const n = 200_000;
    const values = Float32Array.from({ length: n }, (_, i) => 0.001 + (0.999 * i) / n + 1e-7 * (i % 7));
    const present = Int32Array.from({ length: n }, (_, i) => i);
    const text = encodeCtr(values, present);
    const start = text.indexOf('"scores":{"ctr":[') + '"scores":{"ctr":['.length;
    const list = text.slice(start, text.indexOf(']', start)).split(',');
    expect(list).toHaveLength(n);
    let worst = 0;
    const malformed = list.filter((s, i) => {
      worst = Math.max(worst, Math.abs(Number(s) - values[i]!));
      return !/^0\.\d{9}$/.test(s);
    });
    expect(malformed).toEqual([]);
    // rounding to the nearest 1e-9 (plus the double product x·1e9's own rounding)
    expect(worst).toBeLessThanOrEqual(5.0001e-10);
  });

  it('writes scores outside [0.001, 1) as JSON.stringify does, growing past its first estimate', () => {
    // every value takes the long way (up to 25 bytes, not the 12 the buffer is first sized for)
    const n = 5000;
    const values = Float32Array.from(
      { length: n },
      (_, i) => (i % 2 ? -1 : 1) * (1234.5678 + i) * 1e-30 ** (i % 3),
    );
    const present = Int32Array.from({ length: n + 10 }, (_, i) => (i < 10 ? -1 : i - 10));
    const text = encodeCtr(values, present);
    const expected = JSON.stringify([...Array<null>(10).fill(null), ...Array.from(values)]);
    expect(text).toBe(
      `{"model":"m","modelVersion":"v","snapshotVersion":"s","tasks":["ctr"],"unknownIds":[],"scores":{"ctr":${expected}}}`,
    );
  });

  it('writes an empty scores array', () => {
    const text = encodeCtr(new Float32Array(0), new Int32Array(0));
    expect(JSON.parse(text)).toEqual({
      model: 'm',
      modelVersion: 'v',
      snapshotVersion: 's',
      tasks: ['ctr'],
      unknownIds: [],
      scores: { ctr: [] },
    });
  });
});
