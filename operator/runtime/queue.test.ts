import { describe, expect, it } from 'vitest';
import { WorkQueue } from './queue.js';

const fast = () => new WorkQueue({ backoff: { baseMs: 20, maxMs: 80 } });

describe('WorkQueue', () => {
  it('coalesces repeated adds of a queued key', async () => {
    const q = fast();
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
  });

  it('hands a key to one worker at a time and re-queues it when dirtied in flight', async () => {
    const q = fast();
    q.add('ns/a');
    const key = await q.get();
    q.add('ns/a'); // changed while being reconciled
    expect(q.length).toBe(0); // not handed to a second worker
    q.done(key!);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('ns/a');
    q.done('ns/a');
    expect(q.length).toBe(0);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const q = fast();
    const waiting = q.get();
    q.add('ns/x');
    expect(await waiting).toBe('ns/x');
    expect(q.inFlight).toBe(1);
  });

  it('delays with addAfter, keeping the earliest deadline', async () => {
    const q = fast();
    const t0 = Date.now();
    q.addAfter('ns/a', 200);
    q.addAfter('ns/a', 30);
    expect(q.length).toBe(0);
    expect(await q.get()).toBe('ns/a');
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(25);
    expect(waited).toBeLessThan(190);
  });

  it('backs off per key, exponentially and capped, until forget', () => {
    const q = fast();
    expect([
      q.addRateLimited('k'),
      q.addRateLimited('k'),
      q.addRateLimited('k'),
      q.addRateLimited('k'),
    ]).toEqual([20, 40, 80, 80]);
    expect(q.addRateLimited('other')).toBe(20);
    expect(q.retries('k')).toBe(4);
    q.forget('k');
    expect(q.retries('k')).toBe(0);
    expect(q.addRateLimited('k')).toBe(20);
    q.shutDown();
  });

  it('on shutdown releases waiting workers, drops pending keys and refuses new ones', async () => {
    const q = fast();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('ns/a');
    q.addAfter('ns/b', 5);
    expect(await q.get()).toBeUndefined();
  });
});
