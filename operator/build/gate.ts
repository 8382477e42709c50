// A new tower pair rolls out as one unit: while the snapshot of a segment's new item tower is not
// published (building, publishing, or failed), the segment is planned as its stable Deployment
// runs it, so no canary of the new query tower starts. Once the paired snapshot is published,
// the spec's segment goes to the rollout as usual (the canary's sidecar reads LATEST, which
// names the new version).
//
// Held only when there is a stable to keep (a model's first Deployment starts at once: its pods
// turn ready when the sidecar finds the snapshot) and the stable runs another model.
//
// API:
//   waitsForSnapshot(seg, build) → boolean
//   gateSegments(segments, builds, stableOf) → ResolvedSegment[]
import type { SnapshotBuildStatus } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';

/** The segment's item tower has no published snapshot yet (and its build runs on model change). */
export function waitsForSnapshot(seg: ResolvedSegment, build: SnapshotBuildStatus | undefined): boolean {
  const tower = seg.model.itemTower;
  if (!seg.snapshot.build?.onModelChange || !tower) return false;
  return !(
    build?.phase === 'Published' &&
    build.itemTowerSha256 === tower.sha256 &&
    build.towerFingerprint === seg.model.towerFingerprint
  );
}

export function gateSegments(
  segments: ResolvedSegment[],
  builds: Map<string, SnapshotBuildStatus>,
  stableOf: (seg: ResolvedSegment) => ResolvedSegment | undefined,
): { segments: ResolvedSegment[]; held: string[] } {
  const held: string[] = [];
  const out = segments.map((seg) => {
    if (!waitsForSnapshot(seg, builds.get(seg.name))) return seg;
    const stable = stableOf(seg);
    if (!stable || stable.model.sha256 === seg.model.sha256) return seg;
    held.push(seg.name);
    return stable;
  });
  return { segments: out, held };
}
