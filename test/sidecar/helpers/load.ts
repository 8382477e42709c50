// A bounded closed-loop load on the scoring server's ranking endpoint: `concurrency` clients
// each send one request after another until `stop()` or `maxMs`. Records every failure (non-200
// or network error), the snapshot version each answer names, and each request's latency with
// its start time (so a benchmark can cut out a window).
export interface LoadResult {
  ok: number;
  failed: { at: number; error: string }[];
  versions: Map<string, number>;
  samples: { at: number; ms: number; snapshotVersion: string }[];
}

export interface Load {
  /** Resolves when every client has stopped. */
  stop(): Promise<LoadResult>;
  readonly result: LoadResult;
}

export function startLoad(url: string, body: unknown, opts: { concurrency: number; maxMs: number }): Load {
  const result: LoadResult = { ok: 0, failed: [], versions: new Map(), samples: [] };
  const payload = JSON.stringify(body);
  const deadline = Date.now() + opts.maxMs;
  let stopping = false;
  const client = async () => {
    while (!stopping && Date.now() < deadline) {
      const at = performance.now();
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: payload,
        });
        const text = await res.text();
        const ms = performance.now() - at;
        if (res.status !== 200) {
          result.failed.push({ at, error: `HTTP ${res.status}: ${text.slice(0, 200)}` });
          continue;
        }
        const version = (JSON.parse(text) as { snapshotVersion: string }).snapshotVersion;
        result.ok++;
        result.versions.set(version, (result.versions.get(version) ?? 0) + 1);
        result.samples.push({ at, ms, snapshotVersion: version });
      } catch (err) {
        result.failed.push({ at, error: (err as Error).message });
      }
    }
  };
  const clients = Array.from({ length: opts.concurrency }, client);
  return {
    result,
    async stop() {
      stopping = true;
      await Promise.all(clients);
      return result;
    },
  };
}

/** The p-th percentile (0–100) of `values` (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
