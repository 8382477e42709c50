// `http://` and `https://` source: plain GETs under a base URL, with If-None-Match → 304.
//
// Storage is untrusted, so:
//  - redirects are followed by hand, only to the source's own origin (scheme, host and port) or
//    to origins allowed by name (`redirectOrigins`, LIGHTRANK_SYNC_REDIRECT_ORIGINS); any other is
//    refused (`unsafe_redirect`); a loop or more than `maxRedirects` hops is a source error
//    (`redirect_loop`);
//  - credentials (user:password in the URI, or an Authorization value) go to the source's origin
//    only, never to another origin a redirect leads to; they never appear in `uri`, logs or errors;
//  - a 200 whose Content-Type is text/html is an error or login page, not the object
//    (`bad_response`): retried, never parsed as a manifest or written as a matrix;
//  - bodies are asked for without content coding (`accept-encoding: identity`), so the
//    Content-Length the caller checks against the manifest is the object's length.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { RefusedError, SourceError } from '../errors.js';
import { assertSafeKey } from '../paths.js';
import type { GetOptions, GetResult, Source } from './source.js';

export interface HttpSourceOptions {
  /** Origins (`https://cdn.example.com`) a redirect may lead to besides the source's own. */
  redirectOrigins?: readonly string[];
  /** An Authorization header value (`Bearer …`) for the source's origin; overrides URI user:password. */
  authorization?: string | undefined;
  /** Response headers must arrive within this; the body is watched by the caller. */
  headerTimeoutMs?: number;
  maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class HttpSource implements Source {
  readonly uri: string;
  private readonly base: URL;
  private readonly origin: string;
  private readonly allowed: Set<string>;
  private readonly authorization: string | undefined;
  private readonly headerTimeoutMs: number;
  private readonly maxRedirects: number;

  constructor(uri: string, options: HttpSourceOptions = {}) {
    const url = new URL(uri.endsWith('/') ? uri : `${uri}/`);
    const userinfo =
      url.username || url.password
        ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
        : undefined;
    url.username = '';
    url.password = '';
    this.base = url;
    this.uri = url.href.replace(/\/$/, '');
    this.origin = url.origin;
    this.allowed = new Set((options.redirectOrigins ?? []).map(originOf));
    this.authorization = options.authorization || userinfo;
    this.headerTimeoutMs = options.headerTimeoutMs ?? 30_000;
    this.maxRedirects = options.maxRedirects ?? 5;
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    assertSafeKey(key, this.uri);
    let url = new URL(key.split('/').map(encodeURIComponent).join('/'), this.base);
    if (url.origin !== this.origin || !url.pathname.startsWith(this.base.pathname)) {
      throw new RefusedError('unsafe_path', `${this.uri}: key ${JSON.stringify(key)} leaves the base URL`);
    }
    const seen = new Set<string>();
    let res: Response;
    for (let hops = 0; ; hops++) {
      res = await this.fetchOnce(url, options);
      if (!REDIRECTS.has(res.status)) break;
      await res.body?.cancel().catch(() => undefined);
      seen.add(url.href);
      url = this.redirectTarget(url, res);
      if (seen.has(url.href)) {
        throw new SourceError(
          'redirect_loop',
          `GET ${show(url)}: redirect loop (${seen.size} hops back to it)`,
        );
      }
      if (hops + 1 > this.maxRedirects) {
        throw new SourceError(
          'redirect_loop',
          `GET ${this.uri}/${key}: more than ${this.maxRedirects} redirects`,
        );
      }
    }
    const where = `GET ${show(url)}`;
    if (res.status === 304) return { notModified: true };
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      const code =
        res.status === 404
          ? 'not_found'
          : res.status === 401 || res.status === 403
            ? 'denied'
            : 'unavailable';
      throw new SourceError(code, `${where}: HTTP ${res.status}`);
    }
    const type = res.headers.get('content-type') ?? '';
    if (/^\s*text\/html\b/i.test(type)) {
      await res.body.cancel().catch(() => undefined);
      throw new SourceError(
        'bad_response',
        `${where}: HTTP ${res.status} with an HTML page (${type}), not the object: an error or login page?`,
      );
    }
    const length = res.headers.get('content-length');
    const coding = (res.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
    const size =
      length !== null && coding === 'identity' && /^\d+$/.test(length.trim()) ? Number(length) : undefined;
    const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    // A body that breaks off before anyone reads it (the server hangs up while the caller opens
    // its file) destroys this stream with the error at once; without a listener that error would
    // be an uncaught exception and end the process. The reader still sees it: a destroyed stream
    // rejects the pipeline or iterator that reads it.
    body.on('error', () => undefined);
    return {
      notModified: false,
      body,
      etag: res.headers.get('etag') ?? undefined,
      size,
    };
  }

  close(): void {}

  /** One request, no redirect followed; the header timeout covers the response headers only. */
  private async fetchOnce(url: URL, options: GetOptions): Promise<Response> {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (options.ifNoneMatch) headers['if-none-match'] = options.ifNoneMatch;
    if (this.authorization && url.origin === this.origin) headers.authorization = this.authorization;
    const controller = new AbortController();
    const outer = options.signal;
    if (outer?.aborted) controller.abort(outer.reason);
    outer?.addEventListener('abort', () => controller.abort(outer.reason), { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.headerTimeoutMs);
    try {
      return await fetch(url, { headers, signal: controller.signal, redirect: 'manual' });
    } catch (err) {
      if (outer?.aborted && outer.reason instanceof Error) throw outer.reason;
      if (timedOut) {
        throw new SourceError(
          'stalled',
          `GET ${show(url)}: no response headers in ${this.headerTimeoutMs / 1000} s`,
          {
            cause: err,
          },
        );
      }
      throw new SourceError('unavailable', `GET ${show(url)}: ${describe(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Where a redirect leads, if it may be followed; refuses other origins and credentials in it. */
  private redirectTarget(from: URL, res: Response): URL {
    const location = res.headers.get('location');
    let next: URL;
    try {
      if (!location) throw new Error('no Location');
      next = new URL(location, from);
    } catch {
      throw new SourceError(
        'bad_response',
        `GET ${show(from)}: HTTP ${res.status} with ${location ? `a bad Location ${JSON.stringify(location.slice(0, 200))}` : 'no Location'}`,
      );
    }
    const other = next.origin !== this.origin;
    if (
      (next.protocol !== 'http:' && next.protocol !== 'https:') ||
      (other && !this.allowed.has(next.origin)) ||
      next.username ||
      next.password
    ) {
      throw new RefusedError(
        'unsafe_redirect',
        `GET ${show(from)}: HTTP ${res.status} redirects to ${next.protocol === 'http:' || next.protocol === 'https:' ? next.origin : next.protocol}` +
          `${next.username || next.password ? ' with credentials in the URL' : ''}, ` +
          `not the source's origin ${this.origin}` +
          (this.allowed.size ? ` nor one allowed (${[...this.allowed].join(', ')})` : '') +
          ' (LIGHTRANK_SYNC_REDIRECT_ORIGINS allows others by name)',
      );
    }
    return next;
  }
}

/** `scheme://host[:port]` of an allowed origin as written in the configuration. */
export function originOf(value: string): string {
  const url = new URL(value.trim());
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${JSON.stringify(value)} is not an http(s) origin`);
  }
  return url.origin;
}

/** A URL for messages: origin and path, never a query (a signed URL's token) nor credentials. */
function show(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
