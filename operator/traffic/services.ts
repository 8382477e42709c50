// Per-track Services of a segment, the backends every traffic provider points at:
// `<model>-<segment>-stable` selects the stable pods, `<model>-<segment>-canary` the canary pods,
// both on the server port (backends are `http://<svc>.<ns>.svc:8080`). They exist for every
// segment at all times (Argo's stableService/canaryService): a canary Service without pods is
// harmless, and routing never has to wait for one to appear. Pure builders.
import type { RankingModel } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import {
  LABEL_SEGMENT,
  LABEL_TRACK,
  SERVER_PORT,
  ownerReference,
  scoringLabels,
  selectorLabels,
  type Service,
  type Track,
} from '../builders.js';

export const TRACKS: readonly Track[] = ['stable', 'canary'];

export function trackServiceName(model: string, segment: string, track: Track): string {
  return `${model}-${segment}-${track}`;
}

/** The in-cluster URL of a track's Service, as the router table and docs name it. */
export function trackServiceUrl(model: string, namespace: string, segment: string, track: Track): string {
  return `http://${trackServiceName(model, segment, track)}.${namespace}.svc:${SERVER_PORT}`;
}

export function buildTrackService(model: RankingModel, seg: ResolvedSegment, track: Track): Service {
  const name = model.metadata.name;
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
      selector: selectorLabels(name, seg.name, track),
      ports: [{ name: 'http', port: SERVER_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}
