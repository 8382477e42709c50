// Forwards one request to the backend the router chose, on node:http with a keep-alive connection pool per
// backend: bodies stream both ways, method and end-to-end headers pass through (Host included, as Envoy
// does), hop-by-hop headers are dropped, and `x-lightrank-segment` / `x-lightrank-track` on the response say
// where the request went. Upstream failures become a JSON error: 502 (unreachable or reset), 504 (no complete
// answer within the deadline). With an endpoint resolver (router/resolve-kubernetes.ts) a backend named like a
// Service is dialled at one of its ready endpoints; the backend's pool keeps connections per endpoint. A
// request whose chosen backend has no ready endpoint goes to another weighted backend of its segment that
// has one (a canary given weight before its EndpointSlice lists its pods, a stable whose pods all restart),
// counted in `lightrank_router_fallbacks_total`; only when none has one is it a 502.
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from '../lib/logger.js';
import type { RouterMetrics } from './metrics.js';
import type { Backend, RouterTable } from './table.js';

export const TRACK_HEADER = 'x-lightrank-track';
export const SEGMENT_HEADER = 'x-lightrank-segment';

// RFC 9110 §7.6.1 plus the legacy ones; `expect` is answered by this hop (Node sends 100 Continue itself).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

export interface ProxyOptions {
  /** Longest time from sending upstream to the last byte of its answer before a 504 (or a cut response). */
  upstreamTimeoutMs: number;
  /** How long an idle pooled connection is kept (lowered further by the upstream's `Keep-Alive: timeout`). */
  idleSocketTimeoutMs: number;
  logger: Logger;
  metrics: RouterMetrics;
  /** The address to dial for a backend's host and port; undefined: the name itself (DNS). May throw. */
  resolve?: (host: string, port: number) => { host: string; port: number } | undefined;
}

export interface Destination {
  model: string;
  segment: string;
  backend: Backend;
  /** the segment's backends: those with weight take the request if `backend` has no ready endpoint */
  alternates?: readonly Backend[];
}

type Cause = 'connect' | 'reset' | 'timeout' | 'aborted';

export class Proxy {
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly opts: ProxyOptions) {}

  forward(req: IncomingMessage, res: ServerResponse, dest: Destination): void {
    const { metrics, upstreamTimeoutMs, logger } = this.opts;
    const { model, segment } = dest;
    let backend = dest.backend;
    const started = process.hrtime.bigint();
    let settled = false; // a failure was handled, or the client left: later errors are echoes of it

    let target: { host: string; port: number } | undefined;
    try {
      target = this.opts.resolve?.(backend.host, backend.port);
    } catch (err) {
      const other = this.alternate(dest);
      if (other) ({ backend, target } = other);
      else return this.noEndpoint(req, res, dest, err as Error);
    }
    const labels = { model, segment, track: backend.track };

    const upReq = http.request({
      agent: this.agent(backend),
      host: target?.host ?? backend.host,
      port: target?.port ?? backend.port,
      method: req.method,
      path: req.url,
      headers: requestHeaders(req),
    });

    const fail = (cause: Cause, err: Error): void => {
      if (settled) return;
      settled = true;
      metrics.upstreamErrors.inc({ ...labels, cause });
      logger.warn({ ...labels, backend: backend.url, cause, err: err.message }, 'upstream request failed');
      if (res.headersSent) {
        res.destroy(err); // mid-response: the client sees a cut connection, never a truncated "success"
        return;
      }
      sendJson(res, cause === 'timeout' ? 504 : 502, {
        error: `backend ${backend.url} (${backend.track}) of segment "${segment}" failed: ${err.message}`,
        code: cause === 'timeout' ? 'upstream_timeout' : 'upstream_unavailable',
        model,
        segment,
        track: backend.track,
        backend: backend.url,
      });
    };

    // One deadline for the whole exchange (connect to last byte): socket idle timeouts miss a slow drip and
    // are shared with the pool's idle timeout.
    const deadline = setTimeout(() => {
      fail('timeout', new Error(`no complete answer within ${upstreamTimeoutMs} ms`));
      upReq.destroy();
    }, upstreamTimeoutMs);
    upReq.on('error', (err: NodeJS.ErrnoException) => {
      fail(upReq.reusedSocket || err.code === 'ECONNRESET' ? 'reset' : 'connect', err);
    });
    upReq.on('response', (upRes) => {
      const headers = endToEnd(upRes.headers);
      headers[SEGMENT_HEADER] = segment;
      headers[TRACK_HEADER] = backend.track;
      res.writeHead(upRes.statusCode ?? 502, headers);
      upRes.on('error', (err) => fail('aborted', err));
      upRes.on('end', () => {
        metrics.upstreamDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      });
      upRes.pipe(res);
    });

    res.on('finish', () => metrics.requests.inc({ ...labels, code: String(res.statusCode) }));
    // The client went away before the answer was complete: stop the upstream work too.
    res.on('close', () => {
      clearTimeout(deadline);
      if (res.writableFinished) return;
      settled = true;
      upReq.destroy();
    });
    req.on('error', () => upReq.destroy());
    req.pipe(upReq);
  }

  /** Drops the pools of backends the new table no longer names; their in-flight requests finish normally
   *  and their idle connections close on the idle timeout. */
  retain(table: RouterTable): void {
    const wanted = new Set<string>();
    for (const m of table.models.values()) {
      for (const s of m.segments.values()) for (const b of s.backends) wanted.add(b.origin);
    }
    for (const origin of this.agents.keys()) if (!wanted.has(origin)) this.agents.delete(origin);
  }

  /** Closes every pooled connection (shutdown). */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  /** Another backend of the segment with weight and a ready endpoint, tried in table order. */
  private alternate(
    dest: Destination,
  ): { backend: Backend; target: { host: string; port: number } | undefined } | undefined {
    for (const backend of dest.alternates ?? []) {
      if (backend === dest.backend || backend.weight <= 0) continue;
      let target: { host: string; port: number } | undefined;
      try {
        target = this.opts.resolve?.(backend.host, backend.port);
      } catch {
        continue;
      }
      this.opts.metrics.fallbacks.inc({
        model: dest.model,
        segment: dest.segment,
        from: dest.backend.track,
        to: backend.track,
      });
      return { backend, target };
    }
    return undefined;
  }

  /** 502: no backend of the segment has a ready endpoint. */
  private noEndpoint(req: IncomingMessage, res: ServerResponse, dest: Destination, err: Error): void {
    const { metrics, logger } = this.opts;
    const { model, segment, backend } = dest;
    const labels = { model, segment, track: backend.track };
    metrics.upstreamErrors.inc({ ...labels, cause: 'connect' });
    logger.warn({ ...labels, backend: backend.url, err: err.message }, 'no endpoint for backend');
    res.on('finish', () => metrics.requests.inc({ ...labels, code: '502' }));
    req.resume();
    sendJson(res, 502, {
      error: `backend ${backend.url} (${backend.track}) of segment "${segment}" failed: ${err.message}`,
      code: 'upstream_unavailable',
      model,
      segment,
      track: backend.track,
      backend: backend.url,
    });
  }

  private agent(backend: Backend): http.Agent {
    let agent = this.agents.get(backend.origin);
    if (!agent) {
      // LIFO reuse keeps few connections hot; `timeout` closes idle pooled sockets before the upstream does.
      agent = new http.Agent({
        keepAlive: true,
        scheduling: 'lifo',
        timeout: this.opts.idleSocketTimeoutMs,
        noDelay: true,
      });
      this.agents.set(backend.origin, agent);
    }
    return agent;
  }
}

/** Writes a JSON body (the router's own answers and upstream failures). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

function endToEnd(src: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const listed = src.connection ? src.connection.toLowerCase().split(',') : [];
  for (const name in src) {
    if (HOP_BY_HOP.has(name) || (listed.length > 0 && listed.some((t) => t.trim() === name))) continue;
    out[name] = src[name];
  }
  return out;
}

function requestHeaders(req: IncomingMessage): OutgoingHttpHeaders {
  const headers = endToEnd(req.headers);
  const client = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  headers['x-forwarded-proto'] ??= 'http';
  return headers;
}
