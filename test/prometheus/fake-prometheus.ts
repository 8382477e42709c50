// TEST DOUBLE of Prometheus' query API, for the rollout state-machine tests: an HTTP server on
// 127.0.0.1 answering `GET /api/v1/query` with scripted values per track, recognising the
// queries operator/analysis/queries.ts writes (request count, error rate, p99, score buckets).
// It proves nothing about PromQL — test/prometheus/analysis-real.test.ts does that against a
// real Prometheus — only how the operator acts on the answers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TrackScript {
  /** Requests in the window. */
  requests: number;
  errorRate: number;
  p99Seconds: number;
  /** Per-bin score counts over the 20 server buckets (0.05 wide); cumulated in the answer. */
  scoreBins: number[];
}

/** What the fake answers: per track, or `empty` (no series at all: a canary without data). */
export type Script = { canary: TrackScript; stable: TrackScript } | 'empty' | 'error';

export const SCORE_BOUNDS = Array.from({ length: 20 }, (_, i) => Math.round((i + 1) * 5) / 100);

/** A bell-ish distribution of 1,000 scores centred on bin `centre`. */
export function scoresAround(centre: number): number[] {
  return SCORE_BOUNDS.map((_, i) => Math.round(1000 * Math.exp(-((i - centre) ** 2) / 4)));
}

export function healthy(): TrackScript {
  return { requests: 500, errorRate: 0.001, p99Seconds: 0.008, scoreBins: scoresAround(8) };
}

export interface FakePrometheus {
  url: string;
  queries: string[];
  script: Script;
  close(): Promise<void>;
}

function vector(samples: { labels: Record<string, string>; value: number }[]) {
  const now = Date.now() / 1000;
  return {
    status: 'success',
    data: {
      resultType: 'vector',
      result: samples.map((s) => ({ metric: s.labels, value: [now, String(s.value)] })),
    },
  };
}

function answer(script: Script, query: string) {
  if (script === 'empty' || script === 'error') return vector([]);
  const track = /track="canary"/.test(query) ? script.canary : script.stable;
  if (query.includes('histogram_quantile')) return vector([{ labels: {}, value: track.p99Seconds }]);
  if (query.includes('code=~"5.."')) return vector([{ labels: {}, value: track.errorRate }]);
  if (query.includes('lightrank_server_requests_total'))
    return vector([{ labels: {}, value: track.requests }]);
  if (query.includes('lightrank_server_score_bucket')) {
    let cum = 0;
    const buckets = SCORE_BOUNDS.map((le, i) => ({
      labels: { le: String(le) },
      value: (cum += track.scoreBins[i] ?? 0),
    }));
    return vector([...buckets, { labels: { le: '+Inf' }, value: cum }]);
  }
  return vector([]);
}

export async function startFakePrometheus(initial: Script): Promise<FakePrometheus> {
  const fake = { url: '', queries: [] as string[], script: initial } as FakePrometheus;
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/api/v1/query') {
      res.writeHead(404).end();
      return;
    }
    const q = u.searchParams.get('query') ?? '';
    fake.queries.push(q);
    if (fake.script === 'error') {
      res
        .writeHead(503, { 'content-type': 'application/json' })
        .end('{"status":"error","error":"scripted outage"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(fake.script, q)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((r) => server.close(() => r()));
  return fake;
}
