import { describe, expect, it } from 'vitest';
import { scoringChunks } from './chunks.js';

describe('scoringChunks', () => {
  it('packs consecutive jobs while the padded rows fit the budget', () => {
    expect(scoringChunks([2000, 2000, 2000, 2000, 2000], 4096)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    // padding counts: 100 then 3000 pads the first job to 3000 (6000 rows > 4096)
    expect(scoringChunks([100, 3000, 500, 500], 4096)).toEqual([
      [0, 1],
      [1, 2],
      [2, 4],
    ]);
  });

  it('runs a job longer than the budget alone, and everything in one run without a budget', () => {
    expect(scoringChunks([5000, 10, 10], 4096)).toEqual([
      [0, 1],
      [1, 3],
    ]);
    expect(scoringChunks([2000, 2000, 2000], Infinity)).toEqual([[0, 3]]);
    expect(scoringChunks([], 4096)).toEqual([]);
  });
});
