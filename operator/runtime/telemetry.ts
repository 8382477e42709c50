// The operator's Prometheus metrics, registered on the registry from lib/metrics.ts.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../lib/metrics.js';
import type { ApiError } from './kube/client.js';

export type ReconcileResultLabel = 'success' | 'requeue_after' | 'error' | 'terminal';

export interface OperatorMetrics {
  reconciles: Counter<'result'>;
  reconcileDuration: Histogram<never>;
  queueDepth: Gauge<never>;
  apiRequests: Counter<'verb' | 'kind'>;
  apiErrors: Counter<'verb' | 'kind' | 'code'>;
  apiDuration: Histogram<'verb'>;
  isLeader: Gauge<never>;
  /** Wire as the KubeClient's call observer. */
  observeCall(verb: string, kind: string, err?: ApiError, seconds?: number): void;
}

export function createOperatorMetrics(registry: Registry, queueLength: () => number): OperatorMetrics {
  const p = `${METRIC_PREFIX}operator_`;
  const apiRequests = new Counter({
    name: `${p}api_requests_total`,
    help: 'Kubernetes API calls by verb and kind (watch counts each started watch)',
    labelNames: ['verb', 'kind'] as const,
    registers: [registry],
  });
  const apiErrors = new Counter({
    name: `${p}api_errors_total`,
    help: 'Failed Kubernetes API calls by verb, kind and HTTP status (0: no answer)',
    labelNames: ['verb', 'kind', 'code'] as const,
    registers: [registry],
  });
  const apiDuration = new Histogram({
    name: `${p}api_request_duration_seconds`,
    help: 'Duration of successful Kubernetes API calls (watches excluded) by verb',
    labelNames: ['verb'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    reconciles: new Counter({
      name: `${p}reconciles_total`,
      help: 'Reconciles by result: success, requeue_after, error (retried with backoff), terminal (not retried)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: `${p}reconcile_duration_seconds`,
      help: 'Time spent in one reconcile',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: `${p}queue_depth`,
      help: 'Keys waiting in the work queue',
      registers: [registry],
      collect() {
        this.set(queueLength());
      },
    }),
    apiRequests,
    apiErrors,
    apiDuration,
    isLeader: new Gauge({
      name: `${p}is_leader`,
      help: '1 while this process holds the leader lease',
      registers: [registry],
    }),
    observeCall(verb, kind, err, seconds) {
      apiRequests.inc({ verb, kind });
      if (err) apiErrors.inc({ verb, kind, code: String(err.status) });
      if (seconds !== undefined) apiDuration.observe({ verb }, seconds);
    },
  };
}
