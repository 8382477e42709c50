import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { createRegistry } from '../../lib/metrics.js';
import { Controller, TerminalError, type ReconcileFn } from './controller.js';
import { WorkQueue } from './queue.js';
import { createOperatorMetrics } from './telemetry.js';

function setup(reconcile: ReconcileFn) {
  const queue = new WorkQueue({ backoff: { baseMs: 10, maxMs: 40 } });
  const registry = createRegistry('test', { defaultMetrics: false });
  const metrics = createOperatorMetrics(registry, () => queue.length);
  const controller = new Controller(queue, reconcile, { workers: 2, logger: createLogger('test'), metrics });
  const count = async (result: string) =>
    (await metrics.reconciles.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { queue, controller, count, registry };
}

const until = async (cond: () => boolean | Promise<boolean>, ms = 2000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('Controller', () => {
  it('retries a failing key with backoff until it succeeds, then forgets the backoff', async () => {
    let calls = 0;
    const { queue, controller, count } = setup(async () => {
      calls++;
      if (calls < 3) throw new Error('API server said no');
    });
    controller.start();
    queue.add('ns/a');
    await until(async () => (await count('success')) === 1);
    expect(calls).toBe(3);
    expect(await count('error')).toBe(2);
    expect(queue.retries('ns/a')).toBe(0);
    await controller.stop();
  });

  it('does not retry a TerminalError', async () => {
    let calls = 0;
    const { queue, controller, count } = setup(async () => {
      calls++;
      throw new TerminalError('invalid spec');
    });
    controller.start();
    queue.add('ns/a');
    await until(async () => (await count('terminal')) === 1);
    await new Promise((r) => setTimeout(r, 80)); // longer than any backoff
    expect(calls).toBe(1);
    await controller.stop();
  });

  it('requeues after the delay a reconcile asks for', async () => {
    const at: number[] = [];
    const { queue, controller, count } = setup(async () => {
      at.push(Date.now());
      return at.length === 1 ? { requeueAfterMs: 60 } : {};
    });
    controller.start();
    queue.add('ns/a');
    await until(() => at.length === 2);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(55);
    expect(await count('requeue_after')).toBe(1);
    await controller.stop();
  });

  it('never runs one key twice at once, and finishes in-flight work on stop', async () => {
    let running = 0;
    let maxRunning = 0;
    let finished = 0;
    const { queue, controller } = setup(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 30));
      running--;
      finished++;
    });
    controller.start();
    queue.add('ns/a');
    await until(() => running === 1);
    queue.add('ns/a'); // dirtied in flight: runs again after, not beside
    await until(() => finished === 2);
    expect(maxRunning).toBe(1);
    queue.add('ns/b');
    await until(() => running === 1);
    await controller.stop(); // waits for ns/b to finish
    expect(finished).toBe(3);
    expect(running).toBe(0);
  });
});
