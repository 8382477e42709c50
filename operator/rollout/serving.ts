// What a track serves, read where it lives: a scoring Deployment's sync container carries the
// model and snapshot it fetches in its environment (LIGHTRANK_MODEL_*, LIGHTRANK_SNAPSHOT_*; see
// docs/internals.md). During a rollout the spec already names the new version, so the stable
// Deployment is the record of the old one (as Argo's stable ReplicaSet is). After a rollback the
// revision that was rolled back is recorded on the segment's canary Service (annotation
// `lightrank.dev/rolled-back`), so the operator does not start the same failed rollout again.
// A revision is a short hash of what makes a rollout: model URI, sha256, version, tower
// fingerprint and snapshot source URI.
import { createHash } from 'node:crypto';
import { PodEnv } from '../../api/pod-env.js';
import type { ModelRef, SnapshotSource } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import type { KubeObject } from '../runtime/kube/types.js';

export const ROLLED_BACK_ANNOTATION = 'lightrank.dev/rolled-back';

export interface ServingRecord {
  model: ModelRef;
  snapshot: SnapshotSource;
}

export function servingOf(seg: ResolvedSegment): ServingRecord {
  return { model: seg.model, snapshot: seg.snapshot };
}

export function revisionOf(r: ServingRecord): string {
  const key = [r.model.uri, r.model.sha256, r.model.version, r.model.towerFingerprint, r.snapshot.uri].join(
    '\n',
  );
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

type PodTemplateOwner = KubeObject & {
  spec?: {
    template?: { spec?: { containers?: { name: string; env?: { name: string; value?: string }[] }[] } };
  };
};

/**
 * What a scoring Deployment runs, from its sync container's environment; undefined when it has
 * none or lacks a variable (then the spec is taken). Tasks are not in the environment: they come
 * from `tasks` (the spec's; they are no part of the revision).
 */
export function readServing(d: KubeObject | undefined, tasks: string[]): ServingRecord | undefined {
  const sync = (d as PodTemplateOwner | undefined)?.spec?.template?.spec?.containers?.find(
    (c) => c.name === 'sync',
  );
  const env = new Map((sync?.env ?? []).map((e) => [e.name, e.value]));
  const [uri, sha256, version, towerFingerprint, snapshotUri] = [
    PodEnv.ModelUri,
    PodEnv.ModelSha256,
    PodEnv.ModelVersion,
    PodEnv.TowerFingerprint,
    PodEnv.SnapshotUri,
  ].map((name) => env.get(name));
  if (!uri || !sha256 || !version || !towerFingerprint || !snapshotUri) return undefined;
  const poll = Number(env.get(PodEnv.SnapshotPollSeconds));
  return {
    model: { uri, sha256, version, towerFingerprint, tasks },
    snapshot: { uri: snapshotUri, pollIntervalSeconds: Number.isInteger(poll) && poll > 0 ? poll : 30 },
  };
}

export function rolledBackRevision(o: KubeObject | undefined): string | undefined {
  return o?.metadata.annotations?.[ROLLED_BACK_ANNOTATION] || undefined;
}

/** The segment as a track runs it: the spec's settings with the recorded model and snapshot. */
export function withServing(seg: ResolvedSegment, r: ServingRecord): ResolvedSegment {
  return { ...seg, model: r.model, snapshot: r.snapshot };
}

/** An object with the rolled-back revision recorded (or not, when undefined). */
export function markRolledBack<T extends KubeObject>(o: T, revision: string | undefined): T {
  if (!revision) return o;
  return {
    ...o,
    metadata: {
      ...o.metadata,
      annotations: { ...o.metadata.annotations, [ROLLED_BACK_ANNOTATION]: revision },
    },
  };
}
