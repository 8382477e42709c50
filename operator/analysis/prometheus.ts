// A minimal client of Prometheus' HTTP API: instant queries (`GET /api/v1/query`) whose result is
// an instant vector. Anything else (unreachable, non-200, an error status, a result of another
// type) throws a PrometheusError naming the query, which the analysis reports as inconclusive.
import { z } from 'zod';

const VectorResponse = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('vector'),
    result: z.array(
      z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) }),
    ),
  }),
});

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export class PrometheusError extends Error {
  override readonly name = 'PrometheusError';
}

export interface PrometheusClientOptions {
  /** Per-query timeout (default 5 s): an analysis must not hold a reconcile for long. */
  timeoutMs?: number;
}

export class PrometheusClient {
  private readonly timeoutMs: number;

  constructor(
    readonly baseUrl: string,
    opts: PrometheusClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  /** Evaluates `query` now (or at `time`) and returns the samples of the vector. */
  async query(query: string, time?: Date): Promise<Sample[]> {
    const url = new URL('api/v1/query', this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    url.searchParams.set('query', query);
    if (time) url.searchParams.set('time', String(time.getTime() / 1000));
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new PrometheusError(`Prometheus at ${this.baseUrl} unreachable: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (res.status !== 200)
      throw new PrometheusError(`Prometheus answered ${res.status} to ${query}: ${text.slice(0, 300)}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new PrometheusError(`Prometheus answered non-JSON to ${query}: ${text.slice(0, 300)}`);
    }
    const parsed = VectorResponse.safeParse(body);
    if (!parsed.success)
      throw new PrometheusError(`unexpected Prometheus answer to ${query}: ${text.slice(0, 300)}`);
    return parsed.data.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
  }

  /** The single value of a query that aggregates to one sample; undefined when the vector is empty. */
  async scalar(query: string, time?: Date): Promise<number | undefined> {
    const samples = await this.query(query, time);
    if (samples.length > 1)
      throw new PrometheusError(`expected at most one sample from ${query}, got ${samples.length}`);
    const v = samples[0]?.value;
    return v === undefined || Number.isNaN(v) ? undefined : v;
  }
}
