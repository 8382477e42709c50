// Which embedding snapshot each segment serves, as pure functions of its stable-track scoring
// pods: their sync sidecars annotate the pod they run in (api/pod-annotations.ts). Per segment
// the version the ready pods report (when they disagree, the most common, ties to the oldest),
// its createdAt, the versions, refusals and LATEST the pods report: what the status derivation
// (status.ts, its SnapshotsInSync condition) gathers. Nothing here decides a condition.
import { toKubeTime } from '../api/conditions.js';
import { PodAnnotation } from '../api/pod-annotations.js';
import type { KubeObject } from './runtime/kube/types.js';

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
