// Typed refusal of an embedding snapshot: every reason a snapshot is rejected has a stable
// `cause` code (for metrics, status conditions and tests) and a message naming what is wrong.
//
// API:
//   type SnapshotErrorCause = 'manifest' | 'format_version' | 'fingerprint' | 'missing_file'
//     | 'truncated' | 'size' | 'shape' | 'dtype' | 'checksum' | 'duplicate_ids' | 'io'
//   class SnapshotError extends Error { readonly cause: SnapshotErrorCause; readonly file?: string }
//   isSnapshotError(e: unknown): e is SnapshotError

export type SnapshotErrorCause =
  /** manifest.json is missing, not JSON, or lacks/mistypes a field */
  | 'manifest'
  /** manifest.formatVersion is not one this code reads */
  | 'format_version'
  /** towerFingerprint differs from the expected one */
  | 'fingerprint'
  /** a file the format requires (or the manifest lists) is absent */
  | 'missing_file'
  /** a file is shorter than the manifest says */
  | 'truncated'
  /** a file is longer than the manifest says */
  | 'size'
  /** rows/tasks/dim disagree with the files' sizes */
  | 'shape'
  /** the matrix' bytes per value disagree with manifest.dtype */
  | 'dtype'
  /** a file's sha256 differs from the manifest */
  | 'checksum'
  /** the same item id appears on two rows */
  | 'duplicate_ids'
  /** the file system failed in another way */
  | 'io';

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  override readonly cause: SnapshotErrorCause;
  readonly file: string | undefined;

  constructor(cause: SnapshotErrorCause, message: string, file?: string) {
    super(message);
    this.cause = cause;
    this.file = file;
  }
}

export function isSnapshotError(e: unknown): e is SnapshotError {
  return e instanceof SnapshotError;
}
