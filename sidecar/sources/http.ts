// `http://` and `https://` source: plain GETs under a base URL, with If-None-Match → 304.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { SourceError } from '../errors.js';
import type { GetOptions, GetResult, Source } from './source.js';

export class HttpSource implements Source {
  private readonly base: string;

  constructor(
    readonly uri: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.base = uri.endsWith('/') ? uri : `${uri}/`;
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const url = this.base + key.split('/').map(encodeURIComponent).join('/');
    const headers: Record<string, string> = {};
    if (options.ifNoneMatch) headers['if-none-match'] = options.ifNoneMatch;
    // The timeout covers the response headers only; a body then streams for as long as it takes.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: controller.signal, redirect: 'follow' });
    } catch (err) {
      throw new SourceError('unavailable', `GET ${url}: ${describe(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (res.status === 304) return { notModified: true };
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      const code =
        res.status === 404
          ? 'not_found'
          : res.status === 401 || res.status === 403
            ? 'denied'
            : 'unavailable';
      throw new SourceError(code, `GET ${url}: HTTP ${res.status}`);
    }
    const length = res.headers.get('content-length');
    return {
      notModified: false,
      body: Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      etag: res.headers.get('etag') ?? undefined,
      size: length === null ? undefined : Number(length),
    };
  }

  close(): void {}
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'AbortError') return 'no response in time';
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
