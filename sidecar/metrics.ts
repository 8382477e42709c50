// The sidecar's metrics (`lightrank_sidecar_*`), on the registry from lib/metrics.ts. Labelled by
// `kind` (`model` | `snapshot`); the registry's default labels carry segment and track.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../lib/metrics.js';

const P = `${METRIC_PREFIX}sidecar_`;

export class SidecarMetrics {
  readonly lastSuccess: Gauge<'kind'>;
  readonly version: Gauge<'kind' | 'version'>;
  readonly bytes: Counter<'kind'>;
  readonly duration: Histogram<'kind'>;
  readonly failures: Counter<'kind' | 'cause'>;
  readonly ready: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.lastSuccess = new Gauge({
      name: `${P}last_success_timestamp_seconds`,
      help: 'Unix time of the last sync that ended with a good version in place',
      labelNames: ['kind'],
      registers,
    });
    this.version = new Gauge({
      name: `${P}current_version_info`,
      help: 'The version `current` points to (value 1, version in the label)',
      labelNames: ['kind', 'version'],
      registers,
    });
    this.bytes = new Counter({
      name: `${P}downloaded_bytes_total`,
      help: 'Bytes downloaded from storage',
      labelNames: ['kind'],
      registers,
    });
    this.duration = new Histogram({
      name: `${P}sync_duration_seconds`,
      help: 'Time to download, verify and publish one new version',
      labelNames: ['kind'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.failures = new Counter({
      name: `${P}sync_failures_total`,
      help: 'Failed or refused syncs, by cause (checksum, truncated, format_version, fingerprint, source_unavailable, disk_full, …)',
      labelNames: ['kind', 'cause'],
      registers,
    });
    this.ready = new Gauge({
      name: `${P}ready`,
      help: '1 once a good model and a good snapshot are in place',
      registers,
    });
  }

  private readonly versions = new Map<string, string>();

  published(kind: string, version: string): void {
    const old = this.versions.get(kind);
    if (old !== undefined && old !== version) this.version.remove({ kind, version: old });
    this.versions.set(kind, version);
    this.version.set({ kind, version }, 1);
    this.lastSuccess.set({ kind }, Date.now() / 1000);
  }
}
