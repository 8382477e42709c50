// The reconciler's one wave of applies: every step settles, the first failure in order is thrown.
import { describe, expect, it } from 'vitest';
import { settleInOrder } from './reconciler.js';

const later = <T>(ms: number, v: T, fail = false) =>
  new Promise<T>((resolve, reject) =>
    setTimeout(() => (fail ? reject(new Error(String(v))) : resolve(v)), ms),
  );

describe('settleInOrder', () => {
  it('returns every value in order', async () => {
    expect(await settleInOrder([later(5, 'a'), later(1, 2)] as const)).toEqual(['a', 2]);
  });

  it('throws the first failure in order, not the first to happen, once all have settled', async () => {
    let slowDone = false;
    const slow = later(20, 'slow').then((v) => ((slowDone = true), v));
    await expect(
      settleInOrder([later(10, 'deployments', true), later(1, 'router', true), slow] as const),
    ).rejects.toThrow('deployments');
    expect(slowDone).toBe(true);
  });
});
