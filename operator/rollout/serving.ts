// What a track serves, recorded where it lives: the stable Deployment carries the model + snapshot
// it runs (annotation `lightrank.dev/serving`, JSON) — during a rollout the spec already names the
// new version, so the stable Deployment is the record of the old one (as Argo's stable ReplicaSet
// is) — and, after a rollback, the revision that was rolled back (`lightrank.dev/rolled-back`), so
// the operator does not start the same failed rollout again. A revision is a short hash of what
// makes a rollout: model URI, sha256, version, tower fingerprint and snapshot source URI.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ModelRefSchema, SnapshotSourceSchema } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import type { Deployment } from '../builders.js';

export const SERVING_ANNOTATION = 'lightrank.dev/serving';
export const ROLLED_BACK_ANNOTATION = 'lightrank.dev/rolled-back';

const ServingRecordSchema = z.object({ model: ModelRefSchema, snapshot: SnapshotSourceSchema });
export type ServingRecord = z.infer<typeof ServingRecordSchema>;

export function servingOf(seg: ResolvedSegment): ServingRecord {
  return { model: seg.model, snapshot: seg.snapshot };
}

export function revisionOf(r: ServingRecord): string {
  const key = [r.model.uri, r.model.sha256, r.model.version, r.model.towerFingerprint, r.snapshot.uri].join(
    '\n',
  );
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** The record a Deployment carries, or undefined (none, or unreadable: then the spec is taken). */
export function readServing(d: Deployment | undefined): ServingRecord | undefined {
  const raw = d?.metadata.annotations?.[SERVING_ANNOTATION];
  if (!raw) return undefined;
  try {
    const parsed = ServingRecordSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function rolledBackRevision(d: Deployment | undefined): string | undefined {
  return d?.metadata.annotations?.[ROLLED_BACK_ANNOTATION] || undefined;
}

/** The segment as a track runs it: the spec's settings with the recorded model and snapshot. */
export function withServing(seg: ResolvedSegment, r: ServingRecord): ResolvedSegment {
  return { ...seg, model: r.model, snapshot: r.snapshot };
}

/** A built Deployment with its record (and the rolled-back revision, if any) as annotations. */
export function annotate(d: Deployment, r: ServingRecord, rolledBack?: string): Deployment {
  return {
    ...d,
    metadata: {
      ...d.metadata,
      annotations: {
        ...d.metadata.annotations,
        [SERVING_ANNOTATION]: JSON.stringify(r),
        ...(rolledBack ? { [ROLLED_BACK_ANNOTATION]: rolledBack } : {}),
      },
    },
  };
}
