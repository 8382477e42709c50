// Retires the `<model>-<segment>-stable` Services that earlier versions of the operator made as
// each segment's stable backend. The segment's own Service is that backend now (services.ts), and
// the wave that runs before this step has already pointed the router table or the HTTPRoutes at
// it. But a router reads its table from a mounted ConfigMap, which the kubelet refreshes some
// seconds later, and a Gateway programs a route when it gets to it: deleting the old Service at
// once would leave them, for that while, sending the segment's traffic to a Service whose
// EndpointSlices are gone (502s). So the old Service is first marked with the time routing stopped
// naming it (`lightrank.dev/unrouted-since`, one write), kept for spec.rollout.scaleDownDelaySeconds
// from then (the delay that already covers a canary's removal for the same reason), then deleted.
// The mark lives on the Service, so an operator restarted in between keeps counting from it.
// A cluster that never ran an earlier version has no such Service: this step makes no call.
import type { RankingModel } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import type { Logger } from '../../lib/logger.js';
import type { Service } from '../builders.js';
import type { OwnedObjects } from '../runtime/kube/owned.js';
import { SERVICES } from '../runtime/kube/types.js';
import { buildTrackService, trackServiceName } from './services.js';

export const UNROUTED_SINCE_ANNOTATION = 'lightrank.dev/unrouted-since';

export interface LegacyStableOutcome {
  /** Old stable Services still cooling down: not to be pruned this pass. */
  keep: Set<string>;
  /** When the next of them may go. */
  requeueAfterMs: number | undefined;
}

/** What to do with a segment's old stable Service now (pure, for the tests). */
export function legacyStablePlan(
  live: Service | undefined,
  now: Date,
  delaySeconds: number,
): { action: 'none' } | { action: 'mark' } | { action: 'wait'; waitMs: number } | { action: 'delete' } {
  if (!live) return { action: 'none' };
  const since = Date.parse(live.metadata.annotations?.[UNROUTED_SINCE_ANNOTATION] ?? '');
  if (Number.isNaN(since)) return { action: 'mark' };
  const waitMs = since + delaySeconds * 1000 - now.getTime();
  return waitMs > 0 ? { action: 'wait', waitMs } : { action: 'delete' };
}

/** The old Service as it is (headless or not: clusterIP is immutable), with the mark. */
function marked(model: RankingModel, seg: ResolvedSegment, live: Service, now: Date): Service {
  const built = buildTrackService(model, seg, 'stable');
  const { clusterIP: _ip, ...spec } = built.spec;
  return {
    ...built,
    metadata: {
      ...built.metadata,
      annotations: { ...built.metadata.annotations, [UNROUTED_SINCE_ANNOTATION]: now.toISOString() },
    },
    spec: live.spec.clusterIP === 'None' ? { ...spec, clusterIP: 'None' } : spec,
  };
}

export async function retireLegacyStable(
  owned: OwnedObjects,
  model: RankingModel,
  segments: ResolvedSegment[],
  now: Date,
  log: Logger,
): Promise<LegacyStableOutcome> {
  const ns = model.metadata.namespace;
  const delay = model.spec.rollout.scaleDownDelaySeconds;
  const keep = new Set<string>();
  const waits: number[] = [];
  for (const seg of segments) {
    const name = trackServiceName(model.metadata.name, seg.name, 'stable');
    const live = owned.peek<Service>(SERVICES, ns, name);
    const plan = legacyStablePlan(live, now, delay);
    if (plan.action === 'none') continue;
    if (plan.action === 'delete') {
      if (await owned.deleteIfPresent(SERVICES, ns, name))
        log.info({ service: name }, 'Service of an earlier version no longer routed to; deleted');
      continue;
    }
    keep.add(name);
    if (plan.action === 'mark') {
      await owned.apply(SERVICES, marked(model, seg, live!, now));
      waits.push(delay * 1000);
    } else waits.push(plan.waitMs);
  }
  return { keep, requeueAfterMs: waits.length ? Math.max(100, Math.min(...waits)) : undefined };
}
