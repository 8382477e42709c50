import { describe, expect, it } from 'vitest';
import { eachAtMost } from './snapshot-sync.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('eachAtMost (parallel part downloads)', () => {
  it('runs every item, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await eachAtMost(3, [1, 2, 3, 4, 5, 6, 7], async (n) => {
      running++;
      most = Math.max(most, running);
      await tick(5 + (n % 3));
      running--;
      done.push(n);
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it('after a failure starts nothing new, waits for the ones in flight, then throws the first failure', async () => {
    const started: number[] = [];
    let inFlight = 0;
    const result = eachAtMost(2, [1, 2, 3, 4, 5], async (n) => {
      started.push(n);
      inFlight++;
      await tick(n === 1 ? 5 : 30);
      inFlight--;
      if (n === 1) throw new Error('part 1 refused');
    });
    await expect(result).rejects.toThrow('part 1 refused');
    expect(inFlight).toBe(0); // item 2 finished before the failure was thrown
    expect(started).toEqual([1, 2]);
  });
});
