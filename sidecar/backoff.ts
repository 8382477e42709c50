// Delays for the sync loop: capped exponential backoff with full jitter after source errors, and
// a jittered poll interval so that many pods polling one bucket spread out.

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next delay: uniform in [cap/2, cap] where cap = min(max, base·2^attempt). */
  next(): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 32);
    return cap / 2 + (this.random() * cap) / 2;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** `intervalMs` spread by ±`jitter` (a fraction, 0.1 = ±10%). */
export function jittered(intervalMs: number, jitter: number, random: () => number = Math.random): number {
  return intervalMs * (1 + jitter * (2 * random() - 1));
}
