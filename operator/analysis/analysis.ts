// Canary analysis: canary vs stable of one segment, measured from Prometheus, judged against the
// spec's thresholds. Three verdicts, kept distinct:
//   Passed        every measure within its threshold;
//   Failed        a measure over its threshold (error rate, p99 latency, score divergence);
//   Inconclusive  no verdict possible yet: too few canary requests in the window, no data for a
//                 measure, or Prometheus unreachable. The rollout holds the step (and fails only
//                 when inconclusive outlasts the step's deadline; see operator/rollout).
// The score divergence is the PSI (psi.ts) of each task's score histogram, canary over the window
// against stable over a longer baseline window (stable traffic shrinks as the canary grows).
import type { AnalysisSpec } from '../../api/rankingmodel.js';
import { PrometheusError, type PrometheusClient } from './prometheus.js';
import { parseLe, psi, type Bucket } from './psi.js';
import { errorRate, p99Latency, requestCount, scoreBuckets, type TrackSelector } from './queries.js';

export type Verdict = 'Passed' | 'Failed' | 'Inconclusive';

export interface Measurements {
  canaryRequests?: number;
  errorRate?: number;
  p99LatencyMs?: number;
  /** PSI per task. */
  divergence?: Record<string, number>;
}

export interface AnalysisOutcome {
  result: Verdict;
  message: string;
  /** Inconclusive because Prometheus could not be queried (unreachable, an error answer). */
  unavailable?: true;
  measurements: Measurements;
}

export interface AnalysisInput {
  model: string;
  segment: string;
  tasks: readonly string[];
  thresholds: Pick<AnalysisSpec, 'maxErrorRate' | 'maxP99LatencyMs' | 'maxScoreDivergence' | 'minSamples'>;
  /** Window of the canary measures, in seconds. */
  windowSeconds: number;
  /** Window of the stable score baseline, in seconds (longer: stable may be serving little now). */
  baselineWindowSeconds: number;
  time?: Date;
}

/** The analysis window for an interval: two intervals, at least 10 s (rate() needs two scrapes). */
export function windowFor(intervalSeconds: number): number {
  return Math.max(10, 2 * intervalSeconds);
}

const fmt = (n: number, digits = 4) => Number(n.toPrecision(digits)).toString();

export async function analyzeCanary(prom: PrometheusClient, input: AnalysisInput): Promise<AnalysisOutcome> {
  const m: Measurements = {};
  try {
    return await judge(prom, input, m);
  } catch (err) {
    if (err instanceof PrometheusError)
      return { result: 'Inconclusive', message: err.message, measurements: m, unavailable: true };
    throw err;
  }
}

async function judge(
  prom: PrometheusClient,
  input: AnalysisInput,
  m: Measurements,
): Promise<AnalysisOutcome> {
  const { thresholds: t, windowSeconds: w, time } = input;
  const canary: TrackSelector = { model: input.model, segment: input.segment, track: 'canary' };
  const stable: TrackSelector = { ...canary, track: 'stable' };
  const inconclusive = (why: string): AnalysisOutcome => ({
    result: 'Inconclusive',
    message: why,
    measurements: m,
  });

  m.canaryRequests = Math.round((await prom.scalar(requestCount(canary, w), time)) ?? 0);
  if (m.canaryRequests < t.minSamples)
    return inconclusive(
      `canary served ${m.canaryRequests} requests in ${w}s, ${t.minSamples} needed for a verdict`,
    );

  // every measure is taken; a failure wins over missing data (a canary answering only 5xx
  // produces no scores, and must fail on its error rate, not wait for scores)
  const failures: string[] = [];
  const passes: string[] = [];
  const missing: string[] = [];
  const judgeOne = (what: string, value: number, max: number, unit = '') =>
    (value > max ? failures : passes).push(
      `${what} ${fmt(value)}${unit} ${value > max ? '>' : '≤'} ${max}${unit}`,
    );

  m.errorRate = await prom.scalar(errorRate(canary, w), time);
  if (m.errorRate === undefined) missing.push(`no error-rate data for the canary in ${w}s`);
  else judgeOne('error rate', m.errorRate, t.maxErrorRate);

  const p99 = await prom.scalar(p99Latency(canary, w), time);
  if (p99 === undefined) missing.push(`no latency data for the canary in ${w}s`);
  else judgeOne('p99', (m.p99LatencyMs = p99 * 1000), t.maxP99LatencyMs, 'ms');

  m.divergence = {};
  for (const task of input.tasks) {
    const c = toBuckets(await prom.query(scoreBuckets(canary, task, w), time));
    const s = toBuckets(await prom.query(scoreBuckets(stable, task, input.baselineWindowSeconds), time));
    if (!total(c)) missing.push(`no ${task} scores from the canary in ${w}s`);
    else if (!total(s)) missing.push(`no ${task} scores from stable in ${input.baselineWindowSeconds}s`);
    else judgeOne(`${task} PSI`, (m.divergence[task] = psi(s, c)), t.maxScoreDivergence);
  }
  const sample = `${m.canaryRequests} canary requests in ${w}s`;
  if (failures.length)
    return { result: 'Failed', message: `${failures.join('; ')} (${sample})`, measurements: m };
  if (missing.length) return inconclusive(missing.join('; '));
  return { result: 'Passed', message: `${passes.join('; ')} (${sample})`, measurements: m };
}

function toBuckets(samples: { labels: Record<string, string>; value: number }[]): Bucket[] {
  return samples
    .filter((s) => s.labels.le !== undefined && Number.isFinite(s.value))
    .map((s) => ({ le: parseLe(s.labels.le!), count: s.value }));
}

/** Observations in a histogram: the "+Inf" bucket (the largest cumulative count). */
function total(b: Bucket[]): number {
  return b.reduce((mx, x) => Math.max(mx, x.count), 0);
}
