// Capped exponential backoff with optional jitter, as a pure function of the attempt number.
// Shared by the work queue (per-key retries) and the informers / leader elector (reconnects).
export interface BackoffOptions {
  /** Delay of the first retry, in ms. */
  baseMs: number;
  /** Upper bound of any delay, in ms. */
  maxMs: number;
  /** Fraction of the delay added at random (0 = none), so many keys don't retry in lockstep. */
  jitter?: number;
}

/** Delay before retry number `attempt` (0-based): base·2^attempt, capped at max, plus jitter. */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(attempt) || attempt < 0)
    throw new Error(`backoff attempt must be a non-negative integer, got ${attempt}`);
  // 2^attempt overflows to Infinity for large attempts; min() keeps the cap exact.
  const raw = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 60));
  const jitter = opts.jitter ?? 0;
  return Math.min(opts.maxMs, Math.round(raw * (1 + jitter * random())));
}

/** A backoff that counts its own attempts: `next()` gives the next delay, `reset()` after a success. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {}

  next(): number {
    return backoffDelay(this.attempt++, this.opts);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
