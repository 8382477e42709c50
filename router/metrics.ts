// The router's Prometheus metrics (all `lightrank_router_*`): traffic by model/segment/track/code, upstream
// latency with sub-millisecond buckets, and the state of the routing table (version, revision, reloads,
// refused reloads, configured weights).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX, createRegistry } from '../lib/metrics.js';
import type { RouterTable } from './table.js';

const P = `${METRIC_PREFIX}router_`;

// Fine at the low end, where a loopback or in-cluster hop lives, then coarse up to the upstream timeout.
export const UPSTREAM_BUCKETS = [
  0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1,
  0.25, 0.5, 1, 2.5, 5, 10, 30,
];

export class RouterMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'model' | 'segment' | 'track' | 'code'>;
  readonly upstreamDuration: Histogram<'model' | 'segment' | 'track'>;
  readonly upstreamErrors: Counter<'model' | 'segment' | 'track' | 'cause'>;
  readonly fallbacks: Counter<'model' | 'segment' | 'from' | 'to'>;
  readonly tableVersion: Gauge;
  readonly tableInfo: Gauge<'revision' | 'sha256'>;
  readonly tableLoadedTime: Gauge;
  readonly reloads: Counter;
  readonly reloadFailures: Counter<'reason'>;
  readonly backendWeight: Gauge<'model' | 'segment' | 'track'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    this.registry = createRegistry('router', opts);
    const registers = [this.registry];
    this.requests = new Counter({
      name: `${P}requests_total`,
      help: 'Requests handled, by model, segment, track and HTTP status (model "" when the path names no known model)',
      labelNames: ['model', 'segment', 'track', 'code'],
      registers,
    });
    this.upstreamDuration = new Histogram({
      name: `${P}upstream_duration_seconds`,
      help: 'Time from sending a request upstream to the end of the upstream response',
      labelNames: ['model', 'segment', 'track'],
      buckets: UPSTREAM_BUCKETS,
      registers,
    });
    this.upstreamErrors = new Counter({
      name: `${P}upstream_errors_total`,
      help: 'Upstream failures by cause (connect, reset, timeout, aborted)',
      labelNames: ['model', 'segment', 'track', 'cause'],
      registers,
    });
    this.fallbacks = new Counter({
      name: `${P}fallbacks_total`,
      help: 'Requests sent to another track of their segment because the chosen track had no ready endpoint',
      labelNames: ['model', 'segment', 'from', 'to'],
      registers,
    });
    this.tableVersion = new Gauge({
      name: `${P}table_version`,
      help: 'Format version of the routing table being served (0 before one is loaded)',
      registers,
    });
    this.tableInfo = new Gauge({
      name: `${P}table_info`,
      help: 'Always 1; labels name the revision and content sha256 of the table being served',
      labelNames: ['revision', 'sha256'],
      registers,
    });
    this.tableLoadedTime = new Gauge({
      name: `${P}table_loaded_timestamp_seconds`,
      help: 'Unix time the table being served was loaded',
      registers,
    });
    this.reloads = new Counter({
      name: `${P}table_reloads_total`,
      help: 'Tables loaded (the first one included)',
      registers,
    });
    this.reloadFailures = new Counter({
      name: `${P}table_reload_failures_total`,
      help: 'Tables refused (invalid) or unreadable; the previous table keeps serving',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['invalid', 'unreadable']) this.reloadFailures.inc({ reason }, 0); // export 0s up front
    this.backendWeight = new Gauge({
      name: `${P}backend_weight`,
      help: 'Configured weight (0..100) of each backend in the table being served',
      labelNames: ['model', 'segment', 'track'],
      registers,
    });
  }

  /** Records a newly activated table. */
  tableLoaded(table: RouterTable): void {
    this.reloads.inc();
    this.tableVersion.set(table.spec.version);
    this.tableInfo.reset();
    this.tableInfo.set({ revision: table.spec.revision ?? '', sha256: table.sha256 }, 1);
    this.tableLoadedTime.set(Date.now() / 1000);
    this.backendWeight.reset();
    for (const model of table.models.values()) {
      for (const seg of model.segments.values()) {
        for (const b of seg.backends) {
          this.backendWeight.set({ model: model.name, segment: seg.name, track: b.track }, b.weight);
        }
      }
    }
  }
}
