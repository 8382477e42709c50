// The storage source interface. One module per scheme implements it (file.ts, http.ts, s3.ts;
// GCS and Azure can follow); `openSource` in index.ts picks one from a URI. Keys are relative to
// the source's root and use '/' between segments; callers build them from names checked by
// ../paths.ts.
import type { Readable } from 'node:stream';

export interface GetOptions {
  /** Entity tag from an earlier get: a source that supports it answers `notModified`. */
  ifNoneMatch?: string;
}

export type GetResult =
  | { notModified: true }
  | {
      notModified: false;
      /** The object's bytes, streamed; the caller must consume or destroy it. */
      body: Readable;
      etag: string | undefined;
      /** Length in bytes when the source says so. */
      size: number | undefined;
    };

export interface Source {
  /** The root URI, for logs and errors. */
  readonly uri: string;
  /** Fetches one object; throws SourceError (not_found | unavailable | denied). */
  get(key: string, options?: GetOptions): Promise<GetResult>;
  /** Releases connections, if the source holds any. */
  close(): void;
}
