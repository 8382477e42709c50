// The PromQL the canary analysis runs, as pure functions of a track selector and a window. The
// metric names and labels are the server's (docs/internals.md "Server metrics the canary analysis
// reads"): every series carries `model`, `segment`, `track`. Only the serving endpoints count
// (`rank`, `infer`); health checks and scrapes would dilute the error rate and latency.
export const SERVING_ENDPOINTS = 'rank|infer';

export interface TrackSelector {
  model: string;
  segment: string;
  track: 'stable' | 'canary';
}

/** A PromQL string literal (double-quoted, escaped). */
function lit(v: string): string {
  return JSON.stringify(v);
}

export function selector(t: TrackSelector, extra: Record<string, string> = {}): string {
  const eq = Object.entries({ model: t.model, segment: t.segment, track: t.track }).map(
    ([k, v]) => `${k}=${lit(v)}`,
  );
  const more = Object.entries(extra).map(
    ([k, v]) => `${k}${v.startsWith('~') ? `=~${lit(v.slice(1))}` : `=${lit(v)}`}`,
  );
  return `{${[...eq, ...more].join(',')}}`;
}

const serving = { endpoint: `~${SERVING_ENDPOINTS}` };

/** Requests served in the window (the sample count a verdict needs). */
export function requestCount(t: TrackSelector, windowS: number): string {
  return `sum(increase(lightrank_server_requests_total${selector(t, serving)}[${windowS}s]))`;
}

/**
 * Share of requests answered 5xx in the window, 0-1. `or vector(0)`: a track that never failed has
 * no 5xx series at all, which is a rate of 0, not "no data".
 */
export function errorRate(t: TrackSelector, windowS: number): string {
  const errors = selector(t, { ...serving, code: '~5..' });
  return `(sum(rate(lightrank_server_requests_total${errors}[${windowS}s])) or vector(0)) / sum(rate(lightrank_server_requests_total${selector(t, serving)}[${windowS}s]))`;
}

/** p99 request latency in seconds over the window, from the duration histogram's buckets. */
export function p99Latency(t: TrackSelector, windowS: number): string {
  return `histogram_quantile(0.99, sum by (le) (rate(lightrank_server_request_duration_seconds_bucket${selector(t, serving)}[${windowS}s])))`;
}

/** Cumulative score counts per bucket (`le`) of one task over the window. */
export function scoreBuckets(t: TrackSelector, task: string, windowS: number): string {
  return `sum by (le) (increase(lightrank_server_score_bucket${selector(t, { task })}[${windowS}s]))`;
}
