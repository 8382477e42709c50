// Runs reconciles off the work queue and maps their outcomes, in one place, to the queue, the
// metrics and the logs (controller-runtime's reconcileHandler):
//   returns {}                 → success: forget the key's backoff;
//   returns { requeueAfterMs } → success, and look again after that delay;
//   throws TerminalError       → failed for good (e.g. an invalid spec): logged, not retried;
//   throws anything else       → retried with the key's exponential backoff.
// Every log line of one reconcile carries its reconcileId.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../lib/logger.js';
import type { WorkQueue } from './queue.js';
import type { OperatorMetrics } from './telemetry.js';

export interface ReconcileResult {
  requeueAfterMs?: number;
}

/** A failure retrying cannot fix; the key waits for the next change of the object. */
export class TerminalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TerminalError';
  }
}

export type ReconcileFn = (key: string, log: Logger) => Promise<ReconcileResult | void>;

export interface ControllerOptions {
  workers: number;
  logger: Logger;
  metrics: Pick<OperatorMetrics, 'reconciles' | 'reconcileDuration'>;
}

export class Controller {
  private workers: Promise<void>[] = [];

  constructor(
    private readonly queue: WorkQueue,
    private readonly reconcile: ReconcileFn,
    private readonly opts: ControllerOptions,
  ) {}

  start(): void {
    for (let i = 0; i < this.opts.workers; i++) this.workers.push(this.work());
  }

  /** Stop taking keys and wait for the reconciles in flight to finish. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.workers = [];
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.handle(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** One reconcile of `key`, its outcome mapped to queue, metrics and logs. */
  async handle(key: string): Promise<void> {
    const log = this.opts.logger.child({ reconcileId: randomUUID().slice(0, 8), key });
    const end = this.opts.metrics.reconcileDuration.startTimer();
    const started = performance.now();
    try {
      const result = (await this.reconcile(key, log)) ?? {};
      this.queue.forget(key);
      if (result.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        this.opts.metrics.reconciles.inc({ result: 'requeue_after' });
      } else this.opts.metrics.reconciles.inc({ result: 'success' });
      log.debug(
        { ms: Math.round(performance.now() - started), requeueAfterMs: result.requeueAfterMs },
        'reconciled',
      );
    } catch (err) {
      if (err instanceof TerminalError) {
        this.queue.forget(key);
        this.opts.metrics.reconciles.inc({ result: 'terminal' });
        log.error({ err: err.message }, 'reconcile failed; not retrying until the object changes');
      } else {
        const retryInMs = this.queue.addRateLimited(key);
        this.opts.metrics.reconciles.inc({ result: 'error' });
        log.warn(
          {
            err: err instanceof Error ? err.message : String(err),
            retryInMs,
            retries: this.queue.retries(key),
          },
          'reconcile failed; retrying',
        );
      }
    } finally {
      end();
    }
  }
}
