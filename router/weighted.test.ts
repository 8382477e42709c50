import { describe, expect, it } from 'vitest';
import { WeightedChoice, fnv1a32 } from './weighted.js';

describe('WeightedChoice', () => {
  it('picks each item with probability weight / total', () => {
    const choice = new WeightedChoice([
      { item: 'canary', weight: 10 },
      { item: 'stable', weight: 90 },
    ]);
    const n = 100_000;
    let canary = 0;
    for (let i = 0; i < n; i++) if (choice.pick() === 'canary') canary++;
    // σ = sqrt(0.09 / n) ≈ 0.00095; 5σ keeps this from flaking.
    expect(Math.abs(canary / n - 0.1)).toBeLessThan(0.005);
  });

  it('never picks a zero-weight item and refuses all-zero weights', () => {
    const choice = new WeightedChoice([
      { item: 'canary', weight: 0 },
      { item: 'stable', weight: 100 },
    ]);
    for (let i = 0; i < 1000; i++) expect(choice.pick()).toBe('stable');
    expect(() => new WeightedChoice([{ item: 'x', weight: 0 }])).toThrow(/> 0/);
    expect(() => new WeightedChoice([{ item: 'x', weight: 1.5 }])).toThrow(/integer/);
  });

  it('maps buckets to items in entry order', () => {
    const choice = new WeightedChoice([
      { item: 'a', weight: 10 },
      { item: 'b', weight: 0 },
      { item: 'c', weight: 90 },
    ]);
    expect([0, 9, 10, 99].map((b) => choice.at(b))).toEqual(['a', 'a', 'c', 'c']);
  });

  it('gives a sticky key the same item every time, and spreads keys by weight', () => {
    const choice = new WeightedChoice([
      { item: 'canary', weight: 20 },
      { item: 'stable', weight: 80 },
    ]);
    expect(new Set(Array.from({ length: 50 }, () => choice.pickSticky('user-42'))).size).toBe(1);
    let canary = 0;
    for (let i = 0; i < 20_000; i++) if (choice.pickSticky(`user-${i}`) === 'canary') canary++;
    expect(Math.abs(canary / 20_000 - 0.2)).toBeLessThan(0.02);
  });

  it('keeps sticky keys on the first item as its weight grows', () => {
    const at10 = new WeightedChoice([
      { item: 'canary', weight: 10 },
      { item: 'stable', weight: 90 },
    ]);
    const at30 = new WeightedChoice([
      { item: 'canary', weight: 30 },
      { item: 'stable', weight: 70 },
    ]);
    for (let i = 0; i < 2000; i++) {
      if (at10.pickSticky(`k${i}`) === 'canary') expect(at30.pickSticky(`k${i}`)).toBe('canary');
    }
  });
});

describe('fnv1a32', () => {
  it('matches the published FNV-1a test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});
