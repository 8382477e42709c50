// The operator's Kubernetes API client: raw JSON over one keep-alive HTTPS agent, with the
// credentials and TLS settings of a ClusterCredentials (kubeconfig.ts: kubeconfig file or the
// in-cluster ServiceAccount, read by the operator itself; exec/OIDC plugins through
// @kubernetes/client-node's KubeConfig, which has the same shape).
//
// Why not client-node's generated APIs: they turn objects into model classes (Dates instead of
// RFC 3339 strings, unknown fields dropped) and its generic object API cannot reach
// subresources (/status). The controller compares live objects field by field with what it
// wants, so it needs the JSON exactly as the API server sent it; and one transport gives one
// place to count calls and errors by verb and kind.
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type { ClusterCredentials } from './kubeconfig.js';
import type { KubeObject, KubeList, ResourceRef, WatchEvent } from './types.js';

export const FIELD_MANAGER = 'lightrank-operator';

/** An error the API server answered with (status >= 400), or a transport failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly verb: string,
    readonly kind: string,
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}
export function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.status === 409;
}
export function isGone(err: unknown): boolean {
  return err instanceof ApiError && err.status === 410;
}

/** Observes every call: verb, kind, the error when it failed, the seconds a plain request took (for metrics). */
export type CallObserver = (verb: string, kind: string, err?: ApiError, seconds?: number) => void;

export interface RequestOptions {
  verb: string;
  kind: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
}

/** A running watch: `stop()` ends it; `done` settles when the stream ends for any reason. */
export interface WatchHandle {
  stop(): void;
  done: Promise<void>;
}

export class KubeClient {
  private agent: http.Agent | undefined;
  private readonly server: URL;

  private readonly observe: CallObserver;
  private readonly requestTimeoutMs: number;
  private readonly userAgent: string;

  constructor(
    private readonly kc: ClusterCredentials,
    opts: { observe?: CallObserver; requestTimeoutMs?: number; userAgent?: string } = {},
  ) {
    this.observe = opts.observe ?? (() => {});
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    // the audit log records it: tests count this operator's writes by it
    this.userAgent = opts.userAgent ?? FIELD_MANAGER;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  /** Path of a resource collection or object, namespaced or not. */
  static path(ref: ResourceRef, namespace?: string, name?: string, subresource?: string): string {
    const base = ref.group ? `/apis/${ref.group}/${ref.version}` : `/api/${ref.version}`;
    let p = base;
    if (namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${ref.plural}`;
    if (name) p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
    return p;
  }

  async get<T extends KubeObject>(ref: ResourceRef, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>({
      verb: 'get',
      kind: ref.kind,
      method: 'GET',
      path: KubeClient.path(ref, namespace, name),
    });
  }

  /** Whether the API server serves this resource (discovery of its group version). */
  async serves(ref: ResourceRef): Promise<boolean> {
    const path = ref.group ? `/apis/${ref.group}/${ref.version}` : `/api/${ref.version}`;
    try {
      const doc = await this.request<{ resources?: { name: string }[] }>({
        verb: 'discover',
        kind: ref.kind,
        method: 'GET',
        path,
      });
      return (doc.resources ?? []).some((r) => r.name === ref.plural);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async list<T extends KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    query: { labelSelector?: string; limit?: number; continue?: string } = {},
  ): Promise<KubeList<T>> {
    return this.request<KubeList<T>>({
      verb: 'list',
      kind: ref.kind,
      method: 'GET',
      path: KubeClient.path(ref, namespace),
      query,
    });
  }

  async create<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
    return this.request<T>({
      verb: 'create',
      kind: ref.kind,
      method: 'POST',
      path: KubeClient.path(ref, obj.metadata.namespace),
      body: obj,
      query: { fieldManager: FIELD_MANAGER },
    });
  }

  /** PUT with the object's resourceVersion: fails with 409 when someone wrote in between. */
  async replace<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
    return this.request<T>({
      verb: 'update',
      kind: ref.kind,
      method: 'PUT',
      path: KubeClient.path(ref, obj.metadata.namespace, obj.metadata.name),
      body: obj,
      query: { fieldManager: FIELD_MANAGER },
    });
  }

  /** Server-side apply under the operator's one field manager, taking over conflicting fields. */
  async apply<T extends KubeObject>(ref: ResourceRef, obj: T, subresource?: 'status'): Promise<T> {
    return this.request<T>({
      verb: subresource ? 'apply-status' : 'apply',
      kind: ref.kind,
      method: 'PATCH',
      path: KubeClient.path(ref, obj.metadata.namespace, obj.metadata.name, subresource),
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: FIELD_MANAGER, force: true },
    });
  }

  async delete(ref: ResourceRef, namespace: string | undefined, name: string, uid?: string): Promise<void> {
    await this.request({
      verb: 'delete',
      kind: ref.kind,
      method: 'DELETE',
      path: KubeClient.path(ref, namespace, name),
      // the precondition keeps a stale cache from deleting a newer object of the same name
      body: {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: 'Background',
        ...(uid ? { preconditions: { uid } } : {}),
      },
    });
  }

  async request<T>(opts: RequestOptions): Promise<T> {
    const started = performance.now();
    const { res, body } = await this.send(opts);
    const text = await readAll(body);
    if (res.statusCode! >= 400) throw this.fail(opts, res.statusCode!, text);
    this.observe(opts.verb, opts.kind, undefined, (performance.now() - started) / 1000);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Watch a collection from `resourceVersion`, calling `onEvent` per event. The handle's `done`
   * rejects with an ApiError when the server refuses the watch (410 Gone included) and resolves
   * when the stream ends; callers restart it.
   */
  async watch(
    ref: ResourceRef,
    namespace: string | undefined,
    query: { resourceVersion: string; labelSelector?: string; timeoutSeconds?: number },
    onEvent: (ev: WatchEvent) => void,
    signal?: AbortSignal,
  ): Promise<WatchHandle> {
    const opts: RequestOptions = {
      verb: 'watch',
      kind: ref.kind,
      method: 'GET',
      path: KubeClient.path(ref, namespace),
      query: { ...query, watch: true, allowWatchBookmarks: true },
    };
    // the server ends the watch after timeoutSeconds; silence well past that is a dead connection
    const idleMs = (query.timeoutSeconds ?? 1800) * 1000 + 30_000;
    const { req, res, body } = await this.send(opts, { idleMs, signal });
    if (res.statusCode! >= 400) throw this.fail(opts, res.statusCode!, await readAll(body));
    this.observe(opts.verb, opts.kind);
    const done = new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: body, crlfDelay: Infinity });
      lines.on('line', (line) => {
        if (!line.trim()) return;
        let ev: WatchEvent;
        try {
          ev = JSON.parse(line) as WatchEvent;
        } catch {
          return reject(
            new ApiError(
              'watch',
              ref.kind,
              0,
              'BadWatchEvent',
              `unparseable watch event: ${line.slice(0, 200)}`,
            ),
          );
        }
        onEvent(ev);
      });
      lines.on('close', () => resolve());
      const onError = (err: Error) => reject(this.fail(opts, 0, String(err)));
      lines.on('error', onError);
      body.on('error', onError);
    });
    // a rejected `done` nobody awaited must not crash the process
    done.catch(() => {});
    return { stop: () => req.destroy(), done };
  }

  /** Close pooled connections (shutdown; tests). */
  close(): void {
    this.agent?.destroy();
  }

  private fail(opts: RequestOptions, status: number, text: string): ApiError {
    let reason = status === 0 ? 'Transport' : 'Unknown';
    let message = text;
    try {
      const st = JSON.parse(text) as { reason?: string; message?: string };
      reason = st.reason ?? reason;
      message = st.message ?? message;
    } catch {
      // not a Status object; keep the raw text
    }
    const err = new ApiError(
      opts.verb,
      opts.kind,
      status,
      reason,
      `${opts.verb} ${opts.kind} ${opts.path}: ${status} ${message}`,
    );
    this.observe(opts.verb, opts.kind, err);
    return err;
  }

  /**
   * One HTTP request. A plain request fails when the socket is idle for the request timeout; a
   * stream (watch) fails when no response headers arrive within it, or when the stream is then
   * silent for `idleMs`, or when `signal` aborts.
   */
  private async send(
    opts: RequestOptions,
    stream?: { idleMs: number; signal?: AbortSignal },
  ): Promise<{ req: http.ClientRequest; res: http.IncomingMessage; body: http.IncomingMessage }> {
    const reqOpts: https.RequestOptions = { headers: {} };
    await this.kc.applyToHTTPSOptions(reqOpts);
    // client-node makes a fresh agent per call; keep one so connections are reused
    this.agent ??= this.makeAgent(reqOpts);
    const url = new URL(this.server.toString().replace(/\/$/, '') + opts.path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: http.OutgoingHttpHeaders = {
      ...(reqOpts.headers as http.OutgoingHttpHeaders),
      accept: 'application/json',
      'user-agent': this.userAgent,
    };
    if (payload !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const mod = url.protocol === 'https:' ? https : http;
    const timeoutMs = this.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        { method: opts.method, headers, agent: this.agent, auth: reqOpts.auth, signal: stream?.signal },
        (res) => {
          clearTimeout(headersTimer);
          if (stream)
            req.setTimeout(stream.idleMs, () =>
              req.destroy(new Error(`watch silent for ${stream.idleMs} ms`)),
            );
          resolve({ req, res, body: res });
        },
      );
      const headersTimer = stream
        ? setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
        : undefined;
      if (!stream)
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => {
        clearTimeout(headersTimer);
        reject(this.fail(opts, 0, err.message));
      });
      req.end(payload);
    });
  }

  private makeAgent(o: https.RequestOptions): http.Agent {
    // 16 workers each apply a model's objects together: 32 sockets queued requests in the
    // client (200-model benchmark: 68.6 s → 52.0 s to Ready with 128 and 16 workers)
    const common = { keepAlive: true, maxSockets: 128 };
    if (this.server.protocol === 'http:') return new http.Agent(common);
    return new https.Agent({
      ...common,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      pfx: o.pfx,
      passphrase: o.passphrase,
      rejectUnauthorized: o.rejectUnauthorized,
      servername: o.servername,
    });
  }
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}
