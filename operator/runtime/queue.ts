// The work queue of the controller, keyed by "namespace/name" (client-go workqueue semantics):
//  - a key is queued at most once however often it is added (events coalesce);
//  - a key is handed to one worker at a time; a key added while in flight is queued again
//    when that worker calls done(), so the next pass sees the newest state;
//  - addAfter() delays a key (requeueAfter); addRateLimited() delays it by a per-key capped
//    exponential backoff that forget() resets after a success;
//  - shutDown() stops handing out work: get() resolves undefined once the queue is drained of
//    waiters, while workers already holding a key finish it.
import { backoffDelay, type BackoffOptions } from './backoff.js';

export interface WorkQueueOptions {
  backoff: BackoffOptions;
}

export class WorkQueue {
  private readonly order: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(private readonly opts: WorkQueueOptions) {}

  /** Queue a key now (no-op when it is already queued, or after shutdown). */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // done() re-queues it
    this.push(key);
  }

  /** Queue a key after `ms`; an earlier pending deadline for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Queue a key after its backoff delay; each call lengthens the next delay until forget(). */
  addRateLimited(key: string): number {
    const attempt = this.failures.get(key) ?? 0;
    this.failures.set(key, attempt + 1);
    const delay = backoffDelay(attempt, this.opts.backoff);
    this.addAfter(key, delay);
    return delay;
  }

  /** Reset a key's backoff (after a successful reconcile or a terminal error). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many times a key has been retried since its last forget(). */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to work on; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.order.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Mark a key's pass finished; re-queues it when it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
  }

  /** Keys waiting to be worked on (the queue-depth metric). */
  get length(): number {
    return this.order.length;
  }

  /** Keys being worked on right now. */
  get inFlight(): number {
    return this.processing.size;
  }

  /** Stop handing out work; waiting get() calls resolve undefined; delayed keys are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.order.length = 0;
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.take(key));
    else this.order.push(key);
  }

  private take(key: string): string {
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }
}
