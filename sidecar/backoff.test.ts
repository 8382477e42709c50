import { describe, expect, it } from 'vitest';
import { Backoff, jittered } from './backoff.js';

describe('Backoff', () => {
  it('doubles from the base up to the cap, each delay in [cap/2, cap]', () => {
    const hi = new Backoff(100, 1000, () => 1);
    expect([1, 2, 3, 4, 5, 6].map(() => hi.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    const lo = new Backoff(100, 1000, () => 0);
    expect([1, 2, 3, 4, 5].map(() => lo.next())).toEqual([50, 100, 200, 400, 500]);
  });

  it('starts over after reset', () => {
    const b = new Backoff(100, 1000, () => 1);
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(100);
  });
});

describe('jittered', () => {
  it('spreads an interval by ± the jitter fraction', () => {
    expect(jittered(1000, 0.1, () => 0)).toBeCloseTo(900);
    expect(jittered(1000, 0.1, () => 1)).toBeCloseTo(1100);
    expect(jittered(1000, 0, () => 0.3)).toBe(1000);
  });
});
