// `s3://bucket/prefix` source: any S3-compatible store through the AWS SDK. Endpoint, region and
// credentials come the way the SDK takes them: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL,
// AWS_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_SHARED_CREDENTIALS_FILE (a mounted
// secret), web identity (IRSA)… Path-style addressing (`host/bucket/key`) is an option, needed by
// most self-hosted stores.
// Keys are checked (no '.', '..' or empty segments, no control characters) and always prefixed:
// nothing can name an object outside the prefix. The request waits for response headers at most
// `headerTimeoutMs` (the SDK's own default is forever); the body is watched by the caller.
import type { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SourceError } from '../errors.js';
import { assertSafeKey } from '../paths.js';
import type { GetOptions, GetResult, Source } from './source.js';

export interface S3SourceOptions {
  forcePathStyle?: boolean;
  /** Response headers must arrive within this (default 30 s). */
  headerTimeoutMs?: number;
}

export class S3Source implements Source {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly headerTimeoutMs: number;

  constructor(
    readonly uri: string,
    options: S3SourceOptions = {},
  ) {
    const url = new URL(uri);
    this.bucket = url.hostname;
    if (!this.bucket) throw new Error(`${uri}: an s3:// URI needs a bucket (s3://bucket/prefix)`);
    const prefix = decodeURIComponent(url.pathname).replace(/^\/+/, '');
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.headerTimeoutMs = options.headerTimeoutMs ?? 30_000;
    this.client = new S3Client({
      region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? false,
      // The sync loop has its own backoff; one SDK retry covers a dropped keep-alive connection.
      maxAttempts: 2,
      // Every file is checked against a sha256 (spec or manifest) while it streams; a second,
      // CRC pass in JavaScript over hundreds of MB would only cost CPU next to the server.
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const objectKey = this.prefix + assertSafeKey(key, this.uri);
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
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: objectKey, IfNoneMatch: options.ifNoneMatch }),
        { abortSignal: controller.signal },
      );
      if (!res.Body) throw new SourceError('unavailable', `${this.where(objectKey)}: response has no body`);
      return { notModified: false, body: res.Body as Readable, etag: res.ETag, size: res.ContentLength };
    } catch (err) {
      if (err instanceof SourceError) throw err;
      if (outer?.aborted && outer.reason instanceof Error) throw outer.reason;
      if (timedOut) {
        throw new SourceError(
          'stalled',
          `${this.where(objectKey)}: no response headers in ${this.headerTimeoutMs / 1000} s`,
          { cause: err },
        );
      }
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 304) return { notModified: true };
      const name = (err as Error).name;
      const message = `${this.where(objectKey)}: ${name}${status ? ` (HTTP ${status})` : ''}: ${(err as Error).message}`;
      if (status === 404 || name === 'NoSuchKey' || name === 'NoSuchBucket') {
        throw new SourceError('not_found', message, { cause: err });
      }
      if (status === 403 || status === 401) throw new SourceError('denied', message, { cause: err });
      throw new SourceError('unavailable', message, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.client.destroy();
  }

  private where(objectKey: string): string {
    return `s3://${this.bucket}/${objectKey}`;
  }
}
