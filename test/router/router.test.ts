// The router in-process on 127.0.0.1 in front of real node:http upstreams on loopback, its table file updated
// the way the kubelet updates a ConfigMap volume: weights, segment selection, errors, streaming, reloads.
import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter, type Router } from '../../router/app.js';
import {
  ConfigMapDir,
  deadPort,
  load,
  request,
  startUpstream,
  table,
  type Reply,
  type Upstream,
} from './helpers.js';

let dir: string;
let cm: ConfigMapDir;
let router: Router;
let base: string;
let stable: Upstream;
let canary: Upstream;
let shopping: Upstream;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lightrank-router-'));
  cm = new ConfigMapDir(dir);
  [stable, canary, shopping] = await Promise.all([
    startUpstream('stable'),
    startUpstream('canary'),
    startUpstream('shopping'),
  ]);
  await cm.write(table({ standard: { stable: stable.url } }));
  router = createRouter({ tablePath: cm.path, reloadIntervalMs: 25 });
  const addr = await router.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  await router?.close(1000);
  await Promise.all([stable, canary, shopping].map((u) => u?.close()));
  await rm(dir, { recursive: true, force: true });
});

/** Writes a table and makes the router take it now (unless the 25 ms poller already did). */
async function apply(t: object): Promise<void> {
  const text = await cm.write(t);
  expect(await router.reload()).toMatch(/^(loaded|unchanged)$/);
  expect(router.source.current?.sha256).toBe(createHash('sha256').update(text).digest('hex'));
}

function body(r: Reply): Record<string, unknown> {
  return JSON.parse(r.body) as Record<string, unknown>;
}

async function metric(line: string): Promise<number> {
  const text = (await request(`${base}/metrics`)).body;
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.slice(found.lastIndexOf(' ') + 1)) : NaN;
}

describe('weights', () => {
  it.each([90, 50])('sends %i% of 10,000 requests to stable, the rest to canary, within ±2%', async (w) => {
    await apply(table({ standard: { stable: stable.url, canary: canary.url, canaryWeight: 100 - w } }));
    const before = { stable: stable.count, canary: canary.count };
    const replies = await load(10_000, 32, () =>
      request(`${base}/v2/models/demo/infer`, { method: 'POST', body: '{}' }),
    );
    const ok = replies.filter((r): r is Reply => !(r instanceof Error) && r.status === 200);
    expect(ok).toHaveLength(10_000);
    const byHeader = ok.filter((r) => r.headers['x-lightrank-track'] === 'stable').length;
    const atStable = stable.count - before.stable;
    const atCanary = canary.count - before.canary;
    expect(atStable + atCanary).toBe(10_000);
    expect(byHeader).toBe(atStable); // the response header tells the truth about where a request went
    expect(Math.abs(atStable / 10_000 - w / 100)).toBeLessThanOrEqual(0.02);
  });

  it('keeps a sticky key on one track and spreads different keys over both', async () => {
    await apply(table({ standard: { stable: stable.url, canary: canary.url, canaryWeight: 50 } }));
    const tracksOf = async (key: string): Promise<Set<string>> => {
      const replies = await load(20, 4, () =>
        request(`${base}/v1/models/demo/rank`, { headers: { 'x-lightrank-sticky-key': key } }),
      );
      return new Set(replies.map((r) => (r as Reply).headers['x-lightrank-track'] as string));
    };
    const seen = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const tracks = await tracksOf(`user-${i}`);
      expect(tracks.size).toBe(1);
      seen.add([...tracks][0]!);
    }
    expect(seen).toEqual(new Set(['stable', 'canary']));
  });
});

describe('segments and paths', () => {
  beforeAll(async () => {
    await apply(
      table(
        { standard: { stable: stable.url }, shopping: { stable: shopping.url } },
        { defaultSegment: 'standard' },
      ),
    );
  });

  it('routes by the segment header, and to the default segment when it is absent or unknown', async () => {
    const named = await request(`${base}/v2/models/demo/infer`, {
      headers: { 'x-lightrank-segment': 'shopping' },
    });
    expect(body(named).upstream).toBe('shopping');
    expect(named.headers['x-lightrank-segment']).toBe('shopping');
    const absent = await request(`${base}/v2/models/demo/infer`);
    expect(body(absent).upstream).toBe('stable');
    expect(absent.headers['x-lightrank-segment']).toBe('standard');
    const unknown = await request(`${base}/v1/models/demo/rank`, {
      headers: { 'x-lightrank-segment': 'nope' },
    });
    expect(body(unknown).upstream).toBe('stable');
  });

  it('answers 404 with a clear body for an unknown model and for paths that name no model', async () => {
    const unknown = await request(`${base}/v2/models/other/infer`);
    expect(unknown.status).toBe(404);
    expect(body(unknown)).toMatchObject({ code: 'unknown_model' });
    expect(body(unknown).error).toContain('"other"');
    const elsewhere = await request(`${base}/v2/health/ready`);
    expect(elsewhere.status).toBe(404);
    expect(body(elsewhere)).toMatchObject({ code: 'not_found' });
    expect(body(elsewhere).error).toContain('/v2/models/{name}');
  });

  it('streams bodies both ways and passes method, path and end-to-end headers, not hop-by-hop ones', async () => {
    const payload = randomBytes(2 * 1024 * 1024);
    const r = await request(`${base}/v2/models/demo/versions/3/infer?x=1`, {
      method: 'PUT',
      body: payload,
      headers: {
        'x-custom': 'kept',
        connection: 'keep-alive, x-drop',
        'x-drop': 'gone',
        'x-forwarded-for': '10.0.0.9',
      },
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-upstream']).toBe('stable'); // upstream response headers pass through
    expect(r.headers['x-lightrank-track']).toBe('stable');
    const seen = body(r);
    expect(seen).toMatchObject({ method: 'PUT', url: '/v2/models/demo/versions/3/infer?x=1' });
    expect(seen.bodyBytes).toBe(payload.length);
    expect(seen.bodySha256).toBe(createHash('sha256').update(payload).digest('hex'));
    const headers = seen.headers as Record<string, string>;
    expect(headers['x-custom']).toBe('kept');
    expect(headers['x-drop']).toBeUndefined();
    expect(headers.host).toBe(new URL(base).host);
    expect(headers['x-forwarded-for']).toBe('10.0.0.9, 127.0.0.1');
  });
});

describe('upstream failures', () => {
  it('answers 502 naming the backend when it is down', async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    await apply(table({ standard: { stable: stable.url, canary: url, canaryWeight: 100 } }));
    const r = await request(`${base}/v2/models/demo/infer`, { method: 'POST', body: '{"inputs":[]}' });
    expect(r.status).toBe(502);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['x-lightrank-track']).toBeUndefined();
    expect(body(r)).toMatchObject({
      code: 'upstream_unavailable',
      track: 'canary',
      backend: url,
      segment: 'standard',
    });
    expect(body(r).error).toContain('ECONNREFUSED');
    expect(
      await metric(
        'lightrank_router_requests_total{model="demo",segment="standard",track="canary",code="502"',
      ),
    ).toBeGreaterThanOrEqual(1);
  });

  it('answers 504 when the backend does not answer within the timeout', async () => {
    const slow = await startUpstream('slow', { delayMs: 1_000 });
    const cm2 = new ConfigMapDir(await mkdtemp(join(dir, 'slow-')));
    await cm2.write(table({ standard: { stable: slow.url } }));
    const r2 = createRouter({ tablePath: cm2.path, upstreamTimeoutMs: 100 });
    const { port } = await r2.listen(0, '127.0.0.1');
    try {
      const started = Date.now();
      const r = await request(`http://127.0.0.1:${port}/v2/models/demo/infer`);
      expect(r.status).toBe(504);
      expect(body(r)).toMatchObject({ code: 'upstream_timeout', backend: slow.url });
      expect(Date.now() - started).toBeLessThan(900);
    } finally {
      await r2.close(100);
      await slow.close();
    }
  });

  it('cuts the client connection when the backend stalls mid-response, never passing off a truncated body', async () => {
    const stall = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
    });
    await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(stall.address() as AddressInfo).port}`;
    const cm2 = new ConfigMapDir(await mkdtemp(join(dir, 'stall-')));
    await cm2.write(table({ standard: { stable: url } }));
    const r2 = createRouter({ tablePath: cm2.path, upstreamTimeoutMs: 150 });
    const { port } = await r2.listen(0, '127.0.0.1');
    try {
      await expect(request(`http://127.0.0.1:${port}/v2/models/demo/infer`)).rejects.toThrow(
        /aborted|hang up|reset/,
      );
      const text = await r2.metrics.registry.metrics();
      expect(text).toMatch(/lightrank_router_upstream_errors_total\{[^}]*cause="timeout"[^}]*\} 1/);
    } finally {
      await r2.close(100);
      stall.closeAllConnections();
      stall.close();
    }
  });
});

describe('table reloads', () => {
  it('takes new tables under continuous load without failing a request', async () => {
    const [a, b, c] = await Promise.all([startUpstream('a'), startUpstream('b'), startUpstream('c')]);
    try {
      await apply(table({ standard: { stable: a.url } }));
      const failuresBefore = await metric('lightrank_router_table_reload_failures_total{reason="invalid"');
      let stop = false;
      const running = load(20_000, 16, async () => {
        if (stop) return { status: 200, headers: {}, body: '' }; // bounded: ends as soon as the writer is done
        return request(`${base}/v2/models/demo/infer`, { method: 'POST', body: '{}' });
      });
      const served = (u: Upstream) => expect.poll(() => u.count, { timeout: 5_000, interval: 10 });
      await served(a).toBeGreaterThan(0);
      // Left to the poller (25 ms): weights change, backends are replaced, a bad table comes and goes.
      await cm.write(table({ standard: { stable: a.url, canary: b.url, canaryWeight: 50 } }));
      await served(b).toBeGreaterThan(0);
      await cm.write(table({ standard: { stable: c.url } }));
      await served(c).toBeGreaterThan(0);
      await cm.write('{"version": 1, "models": {"demo": {"defaultSegment": "missing", "segments": {}}}}');
      await expect
        .poll(() => metric('lightrank_router_table_reload_failures_total{reason="invalid"'), {
          timeout: 5_000,
        })
        .toBe(failuresBefore + 1);
      const atC = c.count;
      await served(c).toBeGreaterThan(atC + 100); // the refused table did not stop the old one serving
      const atA = a.count;
      await cm.write(table({ standard: { stable: a.url } }));
      await served(a).toBeGreaterThan(atA + 100);
      stop = true;
      const replies = await running;
      const failed = replies.filter((r) => r instanceof Error || r.status !== 200);
      expect(failed).toEqual([]);
      expect(replies.length).toBeGreaterThan(500);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('refuses an invalid table and keeps serving the old one, still ready', async () => {
    await apply(table({ standard: { stable: stable.url } }, { revision: 'good' }));
    await cm.write(table({ standard: { stable: stable.url, canary: canary.url, canaryWeight: 101 } }));
    expect(await router.reload()).toBe('refused');
    expect(router.source.problem).toContain('weight');
    const r = await request(`${base}/v2/models/demo/infer`);
    expect(body(r).upstream).toBe('stable');
    const ready = await request(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(body(ready).revision).toBe('good');
    expect(body(await request(`${base}/table`)).revision).toBe('good');
  });

  it('is unready and answers 503 until a valid table appears', async () => {
    const cm3 = new ConfigMapDir(await mkdtemp(join(dir, 'late-')));
    const r3 = createRouter({ tablePath: cm3.path, reloadIntervalMs: 25 });
    const { port } = await r3.listen(0, '127.0.0.1');
    const at = `http://127.0.0.1:${port}`;
    try {
      expect((await request(`${at}/healthz`)).status).toBe(200);
      const notReady = await request(`${at}/readyz`);
      expect(notReady.status).toBe(503);
      expect(body(notReady).error).toContain('ENOENT');
      const early = await request(`${at}/v2/models/demo/infer`);
      expect(early.status).toBe(503);
      expect(body(early).code).toBe('no_table');
      await cm3.write(table({ standard: { stable: stable.url } }));
      await expect.poll(async () => (await request(`${at}/readyz`)).status, { timeout: 2_000 }).toBe(200);
      expect(body(await request(`${at}/v2/models/demo/infer`)).upstream).toBe('stable');
    } finally {
      await r3.close(100);
    }
  });
});
