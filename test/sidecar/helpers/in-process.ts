// The sync sidecar in the test's own process (sidecar/sidecar.ts), with short intervals, a
// registry to read its metrics from, and a recording stand-in for its pod reporter
// (sidecar/pod-status.ts, whose patches are tested against a real API server in events.test.ts):
// each call is one line, `refused snapshot <version> <code>` for a refusal, as the annotation
// `lightrank.dev/snapshot-refused` would carry it.
import { readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { Registry } from 'prom-client';
import { createLogger } from '../../../lib/logger.js';
import type { PodStatusReporter } from '../../../sidecar/pod-status.js';
import { Sidecar, type SidecarConfig } from '../../../sidecar/sidecar.js';

export interface InProcessSidecar {
  sidecar: Sidecar;
  dataDir: string;
  /** Pod reporter calls, in order: `latest v`, `served v`, `refused <kind> <v> <code>`, `accepted <kind>`. */
  calls: string[];
  /** The full `<code>: <message>` of every refusal reported, in order. */
  refusals: string[];
  current(kind?: 'model' | 'snapshot'): Promise<string | undefined>;
  /** `.tmp-*` entries of a kind's folder (work in progress; none once a sync has ended). */
  leftovers(kind?: 'model' | 'snapshot'): Promise<string[]>;
  /** lightrank_sidecar_sync_failures_total{kind,cause}. */
  failures(cause: string, kind?: 'model' | 'snapshot'): Promise<number>;
  downloaded(kind?: 'model' | 'snapshot'): Promise<number>;
  stop(): Promise<void>;
}

export type TestSidecarConfig = Pick<SidecarConfig, 'dataDir' | 'model' | 'snapshotUri'> &
  Partial<SidecarConfig>;

export async function startInProcess(config: TestSidecarConfig): Promise<InProcessSidecar> {
  const calls: string[] = [];
  const refusals: string[] = [];
  const recorder: PodStatusReporter = {
    latest: async (v) => void calls.push(`latest ${v}`),
    served: async (s) => void calls.push(`served ${s.snapshotVersion}`),
    refused: async (kind, v, cause) => {
      calls.push(`refused ${kind} ${v} ${cause.split(': ')[0]}`);
      refusals.push(cause);
    },
    accepted: async (kind) => void calls.push(`accepted ${kind}`),
  };
  const registry = new Registry();
  const sidecar = new Sidecar(
    {
      pollMs: 50,
      jitter: 0,
      keep: 2,
      backoffBaseMs: 50,
      backoffMaxMs: 200,
      refusedRetryMs: 60_000,
      s3ForcePathStyle: false,
      serverMetricsUrl: undefined,
      ...config,
    },
    { log: createLogger('sidecar-hostile-test'), registry, podStatus: recorder },
  );
  await sidecar.start();
  const value = async (name: string, labels: Record<string, string>) => {
    const metric = await registry.getSingleMetric(name)?.get();
    const hit = metric?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
    return hit?.value ?? 0;
  };
  return {
    sidecar,
    dataDir: config.dataDir,
    calls,
    refusals,
    current: (kind = 'snapshot') =>
      readlink(path.join(config.dataDir, kind, 'current')).catch(() => undefined),
    leftovers: async (kind = 'snapshot') =>
      (await readdir(path.join(config.dataDir, kind)).catch(() => [])).filter((e) => e.startsWith('.tmp-')),
    failures: (cause, kind = 'snapshot') => value('lightrank_sidecar_sync_failures_total', { kind, cause }),
    downloaded: (kind = 'snapshot') => value('lightrank_sidecar_downloaded_bytes_total', { kind }),
    stop: () => sidecar.stop(),
  };
}

/** Samples this process' RSS every 10 ms while `work` runs; resolves to the highest seen. */
export async function rssDuring<T>(
  work: () => Promise<T>,
): Promise<{ result: T; peak: number; before: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  try {
    const result = await work();
    return { result, peak, before };
  } finally {
    clearInterval(timer);
  }
}
