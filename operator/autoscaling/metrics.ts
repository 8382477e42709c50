// The metrics a segment scales on, in one place: the name each has in the custom metrics API, the
// prometheus-adapter rules that serve those names from the scoring servers' own metrics (the
// harness installs them; the chart can too), the PromQL a KEDA Prometheus trigger runs for the
// same signal, and how a spec target becomes a Kubernetes quantity.
//
// Every signal is per pod and counts scoring requests only (`endpoint` rank or infer): health
// checks and scrapes are in the same series families.
//   lightrank_requests_per_second   rate of lightrank_server_requests_total over 30 s
//   lightrank_inflight_requests     mean requests in flight: the rate of the request-duration sum
//                                   (Little's law: arrival rate × time in the system)
//   lightrank_queue_delay_milliseconds  mean wait for a batch: rate of the `queue` stage's sum /
//                                   count, in milliseconds (prometheus-adapter serves values in
//                                   milli-units: a delay in seconds would read 0 below 1 ms)
import type { AutoscalingMetric } from '../../api/autoscaling.js';

export type CustomMetric = Exclude<AutoscalingMetric, 'cpuUtilization'>;

/** The custom metrics API name of each signal (`pods/<name>`). */
export const CUSTOM_METRIC_NAMES: Record<CustomMetric, string> = {
  requestsPerSecond: 'lightrank_requests_per_second',
  inFlightRequests: 'lightrank_inflight_requests',
  queueDelayMilliseconds: 'lightrank_queue_delay_milliseconds',
};

/** The window every rate is taken over (Prometheus scrapes every 15 s by default: two samples). */
export const RATE_WINDOW = '30s';

const SCORING = 'endpoint=~"rank|infer"';
const POD_RESOURCES = { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } };

/**
 * prometheus-adapter's configuration (`rules:`) for the three custom metrics. Series are tied to
 * pods by their `namespace` and `pod` labels, which Prometheus sets from pod discovery.
 */
export const ADAPTER_RULES = {
  rules: [
    {
      seriesQuery: 'lightrank_server_requests_total{namespace!="",pod!=""}',
      resources: POD_RESOURCES,
      name: { matches: '^lightrank_server_requests_total$', as: CUSTOM_METRIC_NAMES.requestsPerSecond },
      metricsQuery: `sum(rate(<<.Series>>{<<.LabelMatchers>>,${SCORING}}[${RATE_WINDOW}])) by (<<.GroupBy>>)`,
    },
    {
      seriesQuery: 'lightrank_server_request_duration_seconds_sum{namespace!="",pod!=""}',
      resources: POD_RESOURCES,
      name: {
        matches: '^lightrank_server_request_duration_seconds_sum$',
        as: CUSTOM_METRIC_NAMES.inFlightRequests,
      },
      metricsQuery: `sum(rate(<<.Series>>{<<.LabelMatchers>>,${SCORING}}[${RATE_WINDOW}])) by (<<.GroupBy>>)`,
    },
    {
      seriesQuery: 'lightrank_server_stage_duration_seconds_sum{namespace!="",pod!="",stage="queue"}',
      resources: POD_RESOURCES,
      name: {
        matches: '^lightrank_server_stage_duration_seconds_sum$',
        as: CUSTOM_METRIC_NAMES.queueDelayMilliseconds,
      },
      // an idle pod has no requests: 0 / (at least 1e-9), not NaN, so the HPA can still decide
      metricsQuery: `1000 * sum(rate(<<.Series>>{<<.LabelMatchers>>,stage="queue"}[${RATE_WINDOW}])) by (<<.GroupBy>>) / clamp_min(sum(rate(lightrank_server_stage_duration_seconds_count{<<.LabelMatchers>>,stage="queue"}[${RATE_WINDOW}])) by (<<.GroupBy>>), 1e-9)`,
    },
  ],
};

/**
 * The segment-wide PromQL of a signal for a KEDA Prometheus trigger, over the stable track's pods
 * (the servers label their metrics with model, segment and track), and how KEDA's HPA compares it
 * with the target: sums are segment totals that it divides by the pod count (AverageValue); queue
 * delay is already a mean, compared as it is (Value).
 */
export function segmentQuery(
  metric: CustomMetric,
  where: { namespace: string; model: string; segment: string },
): { query: string; metricType: 'AverageValue' | 'Value' } {
  const sel = `namespace="${where.namespace}",model="${where.model}",segment="${where.segment}",track="stable"`;
  switch (metric) {
    case 'requestsPerSecond':
      return {
        query: `sum(rate(lightrank_server_requests_total{${sel},${SCORING}}[${RATE_WINDOW}]))`,
        metricType: 'AverageValue',
      };
    case 'inFlightRequests':
      return {
        query: `sum(rate(lightrank_server_request_duration_seconds_sum{${sel},${SCORING}}[${RATE_WINDOW}]))`,
        metricType: 'AverageValue',
      };
    case 'queueDelayMilliseconds':
      return {
        query: `1000 * sum(rate(lightrank_server_stage_duration_seconds_sum{${sel},stage="queue"}[${RATE_WINDOW}])) / clamp_min(sum(rate(lightrank_server_stage_duration_seconds_count{${sel},stage="queue"}[${RATE_WINDOW}])), 1e-9)`,
        metricType: 'Value',
      };
  }
}

/**
 * A target as a Kubernetes quantity in the custom metric's unit: whole numbers as they are,
 * fractions in milli-units ("2.5" → "2500m").
 */
export function targetQuantity(target: number): string {
  return Number.isInteger(target) ? String(target) : `${Math.round(target * 1000)}m`;
}
