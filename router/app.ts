// The router as a plain node:http server: requests for `/v2/models/{name}/...` and `/v1/models/{name}/...`
// are routed by the table (model → segment by header → stable/canary by weight, or sticky by key) and
// forwarded; `/healthz`, `/readyz`, `/metrics` and `/table` are the router's own. Built apart from
// `listen()` so tests drive it in-process; `router/main.ts` wires it to flags and signals.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../lib/logger.js';
import { RouterMetrics } from './metrics.js';
import { Proxy, sendJson } from './proxy.js';
import type { KubernetesResolver } from './resolve-kubernetes.js';
import { selectSegment } from './table.js';
import { TableSource, type CheckResult } from './table-source.js';

export interface RouterOptions {
  /** The table file (the mounted ConfigMap key), or a directory of them (router/table-dir.ts). */
  tablePath: string;
  reloadIntervalMs?: number;
  upstreamTimeoutMs?: number;
  idleSocketTimeoutMs?: number;
  logger?: Logger;
  metrics?: RouterMetrics;
  /** Resolves backends named like Services to their endpoints (router/resolve-kubernetes.ts); default DNS. */
  resolver?: KubernetesResolver;
}

export interface Router {
  readonly server: http.Server;
  readonly source: TableSource;
  readonly metrics: RouterMetrics;
  /** Loads the table (a missing/invalid one leaves the router unready), starts polling, listens. */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Re-reads the table now, bypassing the stat shortcut (what SIGHUP does). */
  reload(): Promise<CheckResult>;
  /** Stops polling and accepting; waits up to `graceMs` for in-flight requests, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

const MODEL_PATH = /^\/v[12]\/models\/([^/?#]+)/;

/** The RankingModel a request path names, or undefined when the path is not a model API path. */
export function modelNameFromPath(url: string): string | undefined {
  const m = MODEL_PATH.exec(url);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
}

export function createRouter(opts: RouterOptions): Router {
  const logger = opts.logger ?? createLogger('router');
  const metrics = opts.metrics ?? new RouterMetrics();
  const proxy = new Proxy({
    upstreamTimeoutMs: opts.upstreamTimeoutMs ?? 30_000,
    idleSocketTimeoutMs: opts.idleSocketTimeoutMs ?? 4_000,
    logger,
    metrics,
    ...(opts.resolver ? { resolve: opts.resolver.resolve.bind(opts.resolver) } : {}),
  });
  const source = new TableSource({
    path: opts.tablePath,
    intervalMs: opts.reloadIntervalMs ?? 2_000,
    logger,
    metrics,
    onLoaded: (table) => {
      proxy.retain(table);
      opts.resolver?.track(table);
    },
  });

  const noRoute = (
    res: http.ServerResponse,
    status: number,
    code: string,
    error: string,
    model = '',
  ): void => {
    metrics.requests.inc({ model, segment: '', track: '', code: String(status) });
    sendJson(res, status, { error, code });
  };

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const name = modelNameFromPath(url);
    if (name === undefined) {
      ownEndpoint(req, res, url);
      return;
    }
    const table = source.current;
    if (!table) {
      noRoute(res, 503, 'no_table', `router has no valid table loaded yet: ${source.problem || 'loading'}`);
      return;
    }
    const route = table.models.get(name);
    if (!route) {
      // a shared router's table may name a thousand models: the first few, and how many more
      const names = [...table.models.keys()];
      const known =
        names.slice(0, 20).join(', ') + (names.length > 20 ? `, … (${names.length - 20} more)` : '');
      noRoute(res, 404, 'unknown_model', `no RankingModel "${name}" in the router table (known: ${known})`);
      return;
    }
    const segment = selectSegment(route, req.headers[route.header]);
    const sticky = req.headers[route.stickyHeader];
    const backend =
      typeof sticky === 'string' && sticky !== '' ? segment.choice.pickSticky(sticky) : segment.choice.pick();
    proxy.forward(req, res, {
      model: route.name,
      segment: segment.name,
      backend,
      alternates: segment.backends,
    });
  });

  function ownEndpoint(req: http.IncomingMessage, res: http.ServerResponse, url: string): void {
    const path = url.split('?', 1)[0];
    const table = source.current;
    switch (path) {
      case '/healthz':
        return sendJson(res, 200, { status: 'ok' });
      case '/readyz': {
        // with the Kubernetes resolver, ready only once the endpoints of every backend were listed; a
        // directory of tables (the namespace's shared router) is ready once read: one model's missing
        // Service must not hold the others (a backend not listed yet is dialled by its name meanwhile)
        const endpoints = source.isDirectory ? '' : (opts.resolver?.problem() ?? '');
        return table && !endpoints
          ? sendJson(res, 200, {
              ready: true,
              revision: table.spec.revision ?? null,
              sha256: table.sha256,
              ...(source.isDirectory ? { refused: source.refusedFiles } : {}),
            })
          : sendJson(res, 503, {
              ready: false,
              error: (table ? endpoints : source.problem) || 'no table loaded yet',
            });
      }
      case '/table':
        return table
          ? sendJson(res, 200, {
              revision: table.spec.revision ?? null,
              sha256: table.sha256,
              loadedAt: source.loadedTime?.toISOString() ?? null,
              table: table.spec,
              ...(source.isDirectory ? { refused: source.refusedFiles } : {}),
            })
          : sendJson(res, 503, { error: source.problem || 'no table loaded yet' });
      case '/metrics':
        metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': metrics.registry.contentType });
            res.end(text);
          },
          (err: Error) => sendJson(res, 500, { error: `cannot render metrics: ${err.message}` }),
        );
        return;
      default:
        noRoute(
          res,
          404,
          'not_found',
          `no route for ${req.method} ${path}: the router serves /v2/models/{name}/... and /v1/models/{name}/... ` +
            '(plus /healthz, /readyz, /metrics, /table)',
        );
    }
  }

  return {
    server,
    source,
    metrics,
    async listen(port, host) {
      await source.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const addr = server.address() as AddressInfo;
      logger.info({ port: addr.port, host: addr.address, table: opts.tablePath }, 'router listening');
      return addr;
    },
    reload: () => source.check(true),
    async close(graceMs = 10_000) {
      source.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      proxy.close();
      opts.resolver?.close();
    },
  };
}
