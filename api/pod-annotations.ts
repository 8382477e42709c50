// The annotations a scoring pod's sync sidecar writes on its own Pod after each sync, and the
// operator reads back into RankingModel status (segments[].snapshotVersion / snapshotTime, the
// SnapshotsInSync condition — pods agreeing with each other and with storage's LATEST — and
// Degraded/ModelRefused). One module, so both sides spell them the same way.
export const PodAnnotation = {
  /** Snapshot version the pod serves (published and current on its volume). */
  SnapshotVersion: 'lightrank.dev/snapshot-version',
  /**
   * The version storage's LATEST named at the sidecar's last read of it, written as soon as it
   * moves (before the download): a pod serving another version is behind storage.
   */
  SnapshotLatest: 'lightrank.dev/snapshot-latest',
  /** createdAt of that snapshot's manifest (RFC 3339). */
  SnapshotCreatedAt: 'lightrank.dev/snapshot-created-at',
  /** Model version the pod serves. */
  ModelVersion: 'lightrank.dev/model-version',
  /** `<version>: <code>: <message>` of the last snapshot refused; removed by the next successful sync. */
  SnapshotRefused: 'lightrank.dev/snapshot-refused',
  /** `<version>: <code>: <message>` of the model the sidecar refused (sha256, fingerprint); removed once one is published. */
  ModelRefused: 'lightrank.dev/model-refused',
} as const;

/**
 * The refusal code (`fingerprint`, `checksum`, `truncated`, … — sidecar/errors.ts RefusalCause) of
 * a SnapshotRefused / ModelRefused value; undefined when the value carries none.
 */
export function refusalCode(value: string): string | undefined {
  return /^[^:]*: ([a-z_]+): /.exec(value)?.[1];
}
