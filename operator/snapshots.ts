// Which embedding snapshot each segment serves, as pure functions of its stable-track scoring
// pods: their sync sidecars annotate the pod they run in (api/pod-annotations.ts). Per segment
// the version the ready pods report (when they disagree, the most common, ties to the oldest)
// and its createdAt; over all segments the SnapshotsInSync condition: True when every segment's
// ready pods are on one version and it is the one storage's LATEST names (as each pod's sidecar
// last read it), False on a refused snapshot, pods on different versions, or pods behind LATEST
// (a download in progress, or stuck), Unknown while no pod has reported.
import { ConditionType, Reason, toKubeTime, type ConditionInput } from '../api/conditions.js';
import { PodAnnotation, refusalCode } from '../api/pod-annotations.js';
import type { KubeObject } from './kube/types.js';

/** What one pod says about its snapshot. */
export interface PodSnapshotReport {
  name: string;
  ready: boolean;
  version?: string;
  createdAt?: string;
  /** The version storage's LATEST named at the pod's sidecar's last read. */
  latest?: string;
  /** `<version>: <cause>` of a refused snapshot. */
  refused?: string;
}

interface PodStatus {
  conditions?: { type: string; status: string }[];
}

/** Reads a pod's snapshot annotations and readiness (a terminating pod is not ready). */
export function podSnapshotReport(pod: KubeObject): PodSnapshotReport {
  const a = pod.metadata.annotations ?? {};
  const conditions = (pod.status as PodStatus | undefined)?.conditions ?? [];
  const ready =
    !pod.metadata.deletionTimestamp && conditions.some((c) => c.type === 'Ready' && c.status === 'True');
  const version = a[PodAnnotation.SnapshotVersion];
  const createdAt = a[PodAnnotation.SnapshotCreatedAt];
  const refused = a[PodAnnotation.SnapshotRefused];
  const latest = a[PodAnnotation.SnapshotLatest];
  return {
    name: pod.metadata.name,
    ready,
    ...(version ? { version } : {}),
    ...(createdAt ? { createdAt } : {}),
    ...(latest ? { latest } : {}),
    ...(refused ? { refused } : {}),
  };
}

export interface SegmentSnapshot {
  /** The version the segment's ready pods serve (the most common; ties to the oldest). */
  snapshotVersion?: string;
  /** Its manifest createdAt, RFC 3339 at second precision. */
  snapshotTime?: string;
  /** Ready pods per reported version, most pods first. */
  versions: [version: string, pods: number][];
  /** Refusals reported by the segment's pods (each `<version>: <cause>`), without repeats. */
  refused: string[];
  /** Ready pods that have not reported a version yet. */
  unreported: number;
  /** Ready pods serving another version than the LATEST their sidecar read, per that LATEST. */
  behind: [latest: string, pods: number][];
}

const pods = (n: number) => `${n} ${n === 1 ? 'pod' : 'pods'}`;

function kubeTime(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : toKubeTime(d);
}

export function segmentSnapshot(reports: readonly PodSnapshotReport[]): SegmentSnapshot {
  const ready = reports.filter((p) => p.ready);
  const counts = new Map<string, number>();
  const created = new Map<string, string>();
  for (const p of ready) {
    if (!p.version) continue;
    counts.set(p.version, (counts.get(p.version) ?? 0) + 1);
    const t = kubeTime(p.createdAt);
    if (t && !created.has(p.version)) created.set(p.version, t);
  }
  const age = (v: string) => created.get(v) ?? '';
  const versions = [...counts].sort(
    ([va, a], [vb, b]) => b - a || age(va).localeCompare(age(vb)) || va.localeCompare(vb),
  );
  const chosen = versions[0]?.[0];
  const time = chosen !== undefined ? created.get(chosen) : undefined;
  return {
    ...(chosen !== undefined ? { snapshotVersion: chosen } : {}),
    ...(time ? { snapshotTime: time } : {}),
    versions,
    refused: [...new Set(reports.flatMap((p) => (p.refused ? [p.refused] : [])))],
    unreported: ready.filter((p) => !p.version).length,
    behind: countBy(
      ready.flatMap((p) => (p.version && p.latest && p.latest !== p.version ? [p.latest] : [])),
    ),
  };
}

function countBy(values: string[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort(([va, a], [vb, b]) => b - a || va.localeCompare(vb));
}

/** SnapshotsInSync over the segments that have ready pods (a segment scaled to zero serves nothing). */
export function snapshotsCondition(
  segments: readonly { name: string; snapshot: SegmentSnapshot }[],
  generation: number,
): ConditionInput {
  const cond = (status: ConditionInput['status'], reason: string, message: string): ConditionInput => ({
    type: ConditionType.SnapshotsInSync,
    status,
    reason,
    message,
    observedGeneration: generation,
  });
  const refused = segments.filter((s) => s.snapshot.refused.length);
  if (refused.length)
    return cond(
      'False',
      // snapshots of another item tower: the classic two-tower skew gets its own reason
      refused.every((s) => s.snapshot.refused.every((r) => refusalCode(r) === 'fingerprint'))
        ? Reason.FingerprintMismatch
        : Reason.SnapshotRejected,
      refused.map((s) => `${s.name}: refused ${s.snapshot.refused.join('; ')}`).join('; '),
    );
  const split = segments.filter((s) => s.snapshot.versions.length > 1);
  if (split.length)
    return cond(
      'False',
      Reason.SnapshotStale,
      split
        .map(
          (s) =>
            `${s.name}: pods on different versions (${s.snapshot.versions
              .map(([v, n]) => `${pods(n)} on ${v}`)
              .join(', ')})`,
        )
        .join('; '),
    );
  const behind = segments.filter((s) => s.snapshot.behind.length);
  if (behind.length)
    return cond(
      'False',
      Reason.SnapshotStale,
      behind
        .map(
          (s) =>
            `${s.name}: storage's LATEST is ${s.snapshot.behind
              .map(([latest, n]) => `${latest} (read by ${pods(n)})`)
              .join(', ')}; the ready pods serve ${s.snapshot.snapshotVersion}`,
        )
        .join('; '),
    );
  const serving = segments.filter((s) => s.snapshot.versions.length || s.snapshot.unreported);
  const waiting = serving.filter((s) => s.snapshot.unreported || !s.snapshot.versions.length);
  if (!serving.length)
    return cond('Unknown', Reason.SnapshotsNotReported, 'no ready pod has reported a snapshot yet');
  if (waiting.length)
    return cond(
      'Unknown',
      Reason.SnapshotsNotReported,
      waiting
        .map((s) => `${s.name}: ${pods(s.snapshot.unreported)} ready without a reported snapshot`)
        .join('; '),
    );
  return cond(
    'True',
    Reason.SnapshotsCurrent,
    serving
      .map((s) => `${s.name}: ${s.snapshot.snapshotVersion} (${pods(s.snapshot.versions[0]![1])})`)
      .join('; '),
  );
}
