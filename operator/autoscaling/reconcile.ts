// The reconcile step for autoscalers (the reconciler calls it after the Deployments): per
// autoscaled segment, apply its HPA or ScaledObject (engine hpa | keda); delete every autoscaler
// of the model that no segment wants any more (autoscaling turned off, engine switched, segment
// removed). Returns what each autoscaled segment's autoscaler reports, for the status.
import type { RankingModel } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import type { Logger } from '../../lib/logger.js';
import { LABEL_MODEL } from '../builders.js';
import type { OwnedObjects } from '../runtime/kube/owned.js';
import {
  HORIZONTALPODAUTOSCALERS,
  SCALEDOBJECTS,
  type KubeObject,
  type ResourceRef,
} from '../runtime/kube/types.js';
import { buildHpa, buildScaledObject } from './objects.js';
import { observeAutoscaler, type AutoscalerObservation } from './status.js';

export interface AutoscalerChanges {
  /** Per autoscaled segment, what its autoscaler reports. */
  observed: Map<string, AutoscalerObservation>;
  created: string[];
  deleted: string[];
}

const KINDS = [HORIZONTALPODAUTOSCALERS, SCALEDOBJECTS];

export async function reconcileAutoscalers(
  owned: OwnedObjects,
  model: RankingModel,
  segments: readonly ResolvedSegment[],
  log: Logger,
  /** The segment still has a canary Deployment (a rollout in flight, or one just finished). */
  hasCanary: (segment: string) => boolean = () => false,
): Promise<AutoscalerChanges> {
  const ns = model.metadata.namespace;
  const out: AutoscalerChanges = { observed: new Map(), created: [], deleted: [] };
  const wanted = new Set<string>();
  // the floor holds while a rollout is in flight (at the last status write) and until its canary
  // is gone: after a promotion the stable's metric needs its rate window to see the traffic that
  // came back to it, and must not read as idle meanwhile
  const progressing = new Set(
    (model.status?.segments ?? []).filter((s) => s.rolloutPhase === 'Progressing').map((s) => s.name),
  );
  const rolling = { has: (name: string) => progressing.has(name) || hasCanary(name) };
  await Promise.all(
    segments.map(async (seg) => {
      if (!seg.autoscaling) return;
      const [ref, desired]: [ResourceRef, KubeObject] =
        seg.autoscaling.engine === 'keda'
          ? [SCALEDOBJECTS, buildScaledObject(model, seg, rolling.has(seg.name))]
          : [HORIZONTALPODAUTOSCALERS, buildHpa(model, seg, rolling.has(seg.name))];
      const name = desired.metadata.name;
      wanted.add(`${ref.kind}/${name}`);
      const applied = await owned.apply(ref, desired);
      if (applied.outcome !== 'unchanged') {
        log.info({ kind: ref.kind, name, field: applied.field }, `${ref.kind} ${applied.outcome}`);
        if (applied.outcome === 'created') out.created.push(`${ref.kind} ${name}`);
      }
      out.observed.set(seg.name, observeAutoscaler(ref.kind, name, await owned.get(ref, ns, name)));
    }),
  );
  const mine = (o: KubeObject) =>
    o.metadata.labels?.[LABEL_MODEL] === model.metadata.name &&
    (o.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid === model.metadata.uid);
  for (const ref of KINDS) {
    const stale = await owned.list(ref, ns, `${LABEL_MODEL}=${model.metadata.name}`, mine);
    for (const o of stale) {
      if (wanted.has(`${ref.kind}/${o.metadata.name}`)) continue;
      if (!(await owned.deleteIfPresent(ref, ns, o.metadata.name))) continue;
      log.info({ kind: ref.kind, name: o.metadata.name }, `${ref.kind} no longer wanted; deleted`);
      out.deleted.push(`${ref.kind} ${o.metadata.name}`);
    }
  }
  return out;
}
