// Polling with a deadline and a failure message that says what was awaited and what was last
// seen. A probe returns a value when the condition holds, or undefined/false (or throws) when it
// does not yet; the last thrown message is reported on timeout.
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** checked before each probe: a returned string aborts the wait with that reason */
  abortIf?: () => string | undefined;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 250;
  const started = Date.now();
  let last = 'the condition never held';
  for (;;) {
    const abort = opts.abortIf?.();
    if (abort) throw new Error(`gave up waiting for ${what}: ${abort}`);
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = `last error: ${err instanceof Error ? err.message : String(err)}`;
    }
    const elapsed = Date.now() - started;
    if (elapsed >= timeoutMs) {
      throw new Error(`timed out after ${(elapsed / 1000).toFixed(1)}s waiting for ${what} (${last})`);
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, timeoutMs - elapsed)));
  }
}
