// The backends every traffic provider points at, per segment and track:
//   stable: the segment's own Service `<model>-<segment>` (builders.ts buildService), port 80,
//     which selects the stable track's pods only (as Flagger's apex Service selects its primary
//     pods): callers that reach it directly get the stable version, whatever a rollout does;
//   canary: `<model>-<segment>-canary`, port 8080, the canary track's pods, only around a rollout.
// So a model that never rolls out has one Service per segment (plus its router's): no per-track
// Service. Earlier versions also made a `<model>-<segment>-stable` Service for the stable backend;
// legacy-stable.ts retires those after an upgrade, once the routers cannot still be sending to them.
//
// The canary Service exists only around a rollout (rollout/segment.ts): it is applied when a
// rollout starts, before the canary Deployment, so its EndpointSlices follow the canary pods from
// the first and the router watches it (the table names it from the next pass, at weight 0) long
// before any weight moves; it stays while the canary runs or carries weight and while it records
// a rolled-back revision; it goes once the segment has settled with no canary, after the table or
// route stopped naming it. No handover is needed at either end: the stable backend never changes.
//
// Headless in router mode: the router resolves the canary Service through its EndpointSlices
// (router/resolve-kubernetes.ts), never through its ClusterIP, so the Service asks for none
// (`clusterIP: None`): no IP allocated, no IPAddress object, no kube-proxy rules; the
// EndpointSlice controller keeps its slices as for any Service with a selector. Gateway API mode
// keeps a ClusterIP: what a Gateway implementation does with a backendRef is its own business.
// clusterIP is immutable, so a headless Service is deleted and created again when its model
// switches to gatewayAPI. The other way, a live Service with a ClusterIP (from gatewayAPI mode, or
// made by an earlier version) is kept as it is: the router works with it too, and recreating it
// would leave the router without endpoints for that track for a moment. The segment Service keeps
// its ClusterIP in both modes (callers use it).
import type { RankingModel } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import {
  LABEL_SEGMENT,
  LABEL_TRACK,
  SERVER_PORT,
  SERVICE_PORT,
  ownerReference,
  serviceName,
  scoringLabels,
  selectorLabels,
  type Service,
  type Track,
} from '../builders.js';

export const TRACKS: readonly Track[] = ['stable', 'canary'];

export function trackServiceName(model: string, segment: string, track: Track): string {
  return `${model}-${segment}-${track}`;
}

/** The Service a track's traffic goes to: the segment's own for stable, the canary Service for canary. */
export function backendService(model: string, segment: string, track: Track): { name: string; port: number } {
  return track === 'stable'
    ? { name: serviceName(model, segment), port: SERVICE_PORT }
    : { name: trackServiceName(model, segment, track), port: SERVER_PORT };
}

/** The in-cluster URL of a track's backend, as the router table and docs name it. */
export function backendUrl(model: string, namespace: string, segment: string, track: Track): string {
  const { name, port } = backendService(model, segment, track);
  return `http://${name}.${namespace}.svc:${port}`;
}

export function buildTrackService(model: RankingModel, seg: ResolvedSegment, track: Track): Service {
  const name = model.metadata.name;
  const headless = model.spec.routing.mode === 'router';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: trackServiceName(name, seg.name, track),
      namespace: model.metadata.namespace,
      labels: { ...scoringLabels(name), [LABEL_SEGMENT]: seg.name, [LABEL_TRACK]: track },
      ownerReferences: [ownerReference(model)],
    },
    spec: {
      type: 'ClusterIP',
      ...(headless ? { clusterIP: 'None' } : {}),
      selector: selectorLabels(name, seg.name, track),
      ports: [{ name: 'http', port: SERVER_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

const isHeadless = (svc: Service): boolean => svc.spec.clusterIP === 'None';

/**
 * How to bring the live track Service to `desired`: apply `desired` (a headless one made a
 * ClusterIP one when a live ClusterIP is kept), after deleting the live one when it is headless
 * and a ClusterIP is wanted (clusterIP is immutable).
 */
export function planTrackService(
  desired: Service,
  live: Service | undefined,
): { recreate: boolean; desired: Service } {
  if (!live) return { recreate: false, desired };
  if (isHeadless(live) && !isHeadless(desired)) return { recreate: true, desired };
  if (!isHeadless(live) && isHeadless(desired)) {
    const { clusterIP: _none, ...spec } = desired.spec;
    return { recreate: false, desired: { ...desired, spec } };
  }
  return { recreate: false, desired };
}
