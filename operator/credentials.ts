// Storage credentials of a segment's snapshot (spec.snapshot.credentials): the Secret's keys become
// environment variables of every container that reads or writes the snapshot's storage — the
// scoring pods' sync sidecar and the build's shard and publish pods — through `envFrom`, so the
// kubelet reads the Secret and the operator never does (its RBAC has no Secrets). A container's
// own `env` wins over `envFrom` (Kubernetes' rule), so the Secret cannot change what the operator
// sets (LIGHTRANK_SNAPSHOT_URI, the model's sha256, …).
//
// API:
//   storageEnvFrom(seg) → { envFrom: [{ secretRef: { name } }] } | {}     spread into a container
import type { ResolvedSegment } from '../api/resolve.js';

export function storageEnvFrom(seg: ResolvedSegment): { envFrom?: { secretRef: { name: string } }[] } {
  const name = seg.snapshot.credentials?.secretRef.name;
  return name ? { envFrom: [{ secretRef: { name } }] } : {};
}
