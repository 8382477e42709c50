import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles from the base and stops at the cap', () => {
    const opts = { baseMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 5, 100].map((a) => backoffDelay(a, opts))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000,
    ]);
  });

  it('adds jitter up to the given fraction, never past the cap', () => {
    expect(backoffDelay(1, { baseMs: 100, maxMs: 1000, jitter: 0.5 }, () => 1)).toBe(300);
    expect(backoffDelay(1, { baseMs: 100, maxMs: 1000, jitter: 0.5 }, () => 0)).toBe(200);
    expect(backoffDelay(9, { baseMs: 100, maxMs: 1000, jitter: 0.5 }, () => 1)).toBe(1000);
  });

  it('refuses a negative or fractional attempt', () => {
    expect(() => backoffDelay(-1, { baseMs: 1, maxMs: 2 })).toThrow(/non-negative integer/);
    expect(() => backoffDelay(1.5, { baseMs: 1, maxMs: 2 })).toThrow(/non-negative integer/);
  });
});

describe('Backoff', () => {
  it('counts attempts and starts over after reset', () => {
    const b = new Backoff({ baseMs: 10, maxMs: 100 });
    expect([b.next(), b.next(), b.next()]).toEqual([10, 20, 40]);
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.next()).toBe(10);
  });
});
