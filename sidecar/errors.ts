// The sidecar's error catalogue. Every failure of a sync is one of three kinds, and the loop
// treats each differently:
//  - SourceError: storage unreachable, object missing, access denied, a transfer that stalls,
//    trickles or breaks off, a response that is not the object → retry with capped backoff;
//  - RefusedError: the version itself is bad (corrupt, truncated, unknown format, wrong
//    fingerprint, unsafe paths, a redirect off the source's origin, too large for the volume) →
//    reported, the last good version keeps serving, not retried hot;
//  - LocalWriteError: the shared volume refused a write (disk full, permission) → reported with
//    the path, temp files removed, old version kept, retried with backoff.
// `cause` is the stable code that becomes the `cause` label of the failure metric.

export type SourceErrorCode =
  | 'not_found'
  | 'unavailable'
  | 'denied'
  /** no byte for the stall timeout (response headers included) */
  | 'stalled'
  /** fewer bytes in a rate window than the floor allows */
  | 'too_slow'
  /** the body ended before the length its headers announced (connection closed mid-way) */
  | 'interrupted'
  /** a redirect loop, or more redirects than allowed */
  | 'redirect_loop'
  /** a response that is not the object: an HTML page with 200, a redirect without a Location… */
  | 'bad_response';

export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    readonly code: SourceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get failureCause(): string {
    return `source_${this.code}`;
  }
}

/** Causes a version is refused for: the snapshot validator's codes plus the sidecar's own. */
export type RefusalCause =
  | 'truncated'
  | 'size'
  | 'missing_file'
  | 'checksum'
  | 'format_version'
  | 'shape'
  | 'dtype'
  | 'duplicate_ids'
  | 'fingerprint'
  | 'manifest'
  | 'unsafe_path'
  | 'bad_version'
  /** an http(s) redirect to an origin that is not the source's own nor allowed by name */
  | 'unsafe_redirect'
  /** more bytes than the volume has free (old version kept), or than the model cap */
  | 'too_large';

export class RefusedError extends Error {
  override readonly name = 'RefusedError';
  constructor(
    readonly refusal: RefusalCause,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get failureCause(): string {
    return this.refusal;
  }
}

export type LocalWriteCode = 'disk_full' | 'permission_denied' | 'read_only' | 'io';

export class LocalWriteError extends Error {
  override readonly name = 'LocalWriteError';
  constructor(
    readonly code: LocalWriteCode,
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get failureCause(): string {
    return this.code;
  }
}

const LOCAL_CODES: Record<string, [LocalWriteCode, string]> = {
  ENOSPC: ['disk_full', 'no space left on device'],
  EDQUOT: ['disk_full', 'disk quota exceeded'],
  EACCES: ['permission_denied', 'permission denied'],
  EPERM: ['permission_denied', 'operation not permitted'],
  EROFS: ['read_only', 'read-only file system'],
};

/** Wraps a file-system error from writing `path` into a LocalWriteError that names the path. */
export function localWriteError(err: unknown, path: string, action: string): LocalWriteError {
  if (err instanceof LocalWriteError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  const [code, words] = LOCAL_CODES[errno] ?? ['io', (err as Error | undefined)?.message ?? String(err)];
  return new LocalWriteError(code, path, `cannot ${action} ${path}: ${words}${errno ? ` (${errno})` : ''}`, {
    cause: err,
  });
}

/** The metric `cause` label for any error the sync loop catches. */
export function failureCause(err: unknown): string {
  if (err instanceof SourceError || err instanceof RefusedError || err instanceof LocalWriteError) {
    return err.failureCause;
  }
  return 'internal';
}
