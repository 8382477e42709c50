// The storage source interface. One module per scheme implements it (file.ts, http.ts, s3.ts;
// GCS and Azure can follow); `openSource` in index.ts picks one from a URI. Keys are relative to
// the source's root and use '/' between segments; callers build them from names checked by
// ../paths.ts, and every source checks them again (assertSafeKey) before it touches storage:
// nothing a key says can reach outside the source's root (file://), origin (http) or prefix (s3).
import type { Readable } from 'node:stream';

export interface GetOptions {
  /** Entity tag from an earlier get: a source that supports it answers `notModified`. */
  ifNoneMatch?: string;
  /**
   * Aborts the request (and the body's stream) when it fires: the transfer watchdog's
   * (download.ts: stall, rate floor). A source may also keep a header timeout of its own.
   */
  signal?: AbortSignal;
}

export type GetResult =
  | { notModified: true }
  | {
      notModified: false;
      /** The object's bytes, streamed; the caller must consume or destroy it. */
      body: Readable;
      etag: string | undefined;
      /**
       * Length in bytes when the source says so (Content-Length, ContentLength, fstat): the
       * caller refuses a length that disagrees with the manifest before reading a byte. A length
       * is a claim: the reader still stops at the size it expects.
       */
      size: number | undefined;
    };

export interface Source {
  /** The root URI, for logs and errors (never with credentials in it). */
  readonly uri: string;
  /**
   * Fetches one object; throws SourceError (not_found | unavailable | denied | bad_response |
   * redirect_loop …) or RefusedError (unsafe_path, unsafe_redirect) for what storage must not do.
   */
  get(key: string, options?: GetOptions): Promise<GetResult>;
  /** Releases connections, if the source holds any. */
  close(): void;
}
