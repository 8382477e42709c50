import { describe, expect, it } from 'vitest';
import { binCounts, psi, type Bucket } from './psi.js';
import { errorRate, p99Latency, requestCount, scoreBuckets, selector } from './queries.js';

const cumulative = (bins: number[], bounds = bins.map((_, i) => (i + 1) / bins.length)): Bucket[] => {
  let c = 0;
  return [...bins.map((b, i) => ({ le: i === bins.length - 1 ? Infinity : bounds[i]!, count: (c += b) }))];
};

describe('psi', () => {
  it('is 0 for the same distribution at any scale', () => {
    expect(psi(cumulative([10, 20, 30, 40]), cumulative([1, 2, 3, 4]))).toBeCloseTo(0, 12);
  });

  it('matches the formula Σ (a − e) ln(a / e) on a hand-computed shift', () => {
    const e = [0.25, 0.25, 0.25, 0.25];
    const a = [0.1, 0.2, 0.3, 0.4];
    const want = a.reduce((s, x, i) => s + (x - e[i]!) * Math.log(x / e[i]!), 0);
    expect(psi(cumulative(e.map((x) => x * 1000)), cumulative(a.map((x) => x * 1000)))).toBeCloseTo(want, 9);
    expect(want).toBeCloseTo(0.2282, 3);
  });

  it('stays finite when a bin is empty on one side (floor 1e-4)', () => {
    const v = psi(cumulative([100, 0, 0, 0]), cumulative([0, 0, 0, 100]));
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThan(10);
  });

  it('refuses an empty distribution', () => {
    expect(() => psi(cumulative([0, 0]), cumulative([1, 1]))).toThrow(/empty/);
  });

  it('turns cumulative counts into bins, clamping a counter reset', () => {
    expect(
      binCounts([
        { le: 0.5, count: 3 },
        { le: Infinity, count: 2 },
      ]),
    ).toEqual([
      { le: 0.5, count: 3 },
      { le: Infinity, count: 0 },
    ]);
  });
});

describe('queries', () => {
  const t = { model: 'ads', segment: 'standard', track: 'canary' as const };
  it('select the track and the serving endpoints, quoting values', () => {
    expect(selector(t)).toBe('{model="ads",segment="standard",track="canary"}');
    expect(selector({ ...t, model: 'a"b' })).toContain('model="a\\"b"');
    expect(requestCount(t, 60)).toBe(
      'sum(increase(lightrank_server_requests_total{model="ads",segment="standard",track="canary",endpoint=~"rank|infer"}[60s]))',
    );
  });
  it('count a track without 5xx series as error rate 0, not as no data', () => {
    expect(errorRate(t, 30)).toMatch(
      /^\(sum\(rate\(.*code=~"5\.\."\}\[30s\]\)\) or vector\(0\)\) \/ sum\(rate\(/,
    );
  });
  it('take p99 from the buckets and scores per task', () => {
    expect(p99Latency(t, 30)).toMatch(
      /^histogram_quantile\(0\.99, sum by \(le\) \(rate\(lightrank_server_request_duration_seconds_bucket/,
    );
    expect(scoreBuckets(t, 'ctr', 600)).toContain('task="ctr"}[600s]');
  });
});
