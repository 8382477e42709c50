// Desired HTTPRoutes (gateway.networking.k8s.io/v1) of the `gatewayAPI` traffic provider, as pure
// functions: one per segment, named `<model>-<segment>`, attached to spec.routing.parentRefs. Its
// one rule matches the segment's header values (one match per value) and sends the traffic to
// the segment's Service (port 80; it selects the stable pods) and, while the segment has a canary
// Service, the canary one (port 8080), by weight (no
// backendRef names a Service that is not there: a Gateway reports such a route ResolvedRefs=False).
// The default segment's rule also has a match on the
// path alone: Gateway API gives the header matches of the other segments precedence over it
// ("largest number of header matches"), so it only catches requests no segment claims.
import type { ParentRef, RankingModel } from '../../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../../api/resolve.js';
import { LABEL_MANAGED_BY, LABEL_MODEL, LABEL_SEGMENT, MANAGED_BY, ownerReference } from '../../builders.js';
import type { KubeObject } from '../../runtime/kube/types.js';
import { backendService } from '../services.js';

export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  port: number;
  weight: number;
}

export interface HttpRouteMatch {
  path: { type: 'PathPrefix'; value: string };
  headers?: { type: 'Exact'; name: string; value: string }[];
}

export type HttpRoute = KubeObject & {
  spec: {
    parentRefs: Record<string, unknown>[];
    rules: { matches: HttpRouteMatch[]; backendRefs: BackendRef[] }[];
  };
};

export function httpRouteName(model: string, segment: string): string {
  return `${model}-${segment}`;
}

function parentRef(p: ParentRef): Record<string, unknown> {
  return {
    group: p.group,
    kind: p.kind,
    name: p.name,
    ...(p.namespace ? { namespace: p.namespace } : {}),
    ...(p.sectionName ? { sectionName: p.sectionName } : {}),
    ...(p.port ? { port: p.port } : {}),
  };
}

/** The segment's route; its canary backend only while `withCanary` (its Service exists) or it carries weight. */
export function buildHttpRoute(
  model: RankingModel,
  seg: ResolvedSegment,
  canaryWeight: number,
  withCanary: boolean,
): HttpRoute {
  const name = model.metadata.name;
  const root = { type: 'PathPrefix' as const, value: '/' };
  const matches: HttpRouteMatch[] = seg.headerValues.map((value) => ({
    path: root,
    headers: [{ type: 'Exact', name: seg.headerName, value }],
  }));
  if (seg.isDefault) matches.push({ path: root });
  const backend = (track: 'stable' | 'canary', weight: number): BackendRef => ({
    group: '',
    kind: 'Service',
    ...backendService(name, seg.name, track),
    weight,
  });
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: {
      name: httpRouteName(name, seg.name),
      namespace: model.metadata.namespace,
      labels: {
        'app.kubernetes.io/part-of': 'lightrank',
        [LABEL_MANAGED_BY]: MANAGED_BY,
        [LABEL_MODEL]: name,
        [LABEL_SEGMENT]: seg.name,
      },
      ownerReferences: [ownerReference(model)],
    },
    spec: {
      parentRefs: (model.spec.routing.parentRefs ?? []).map(parentRef),
      rules: [
        {
          matches,
          backendRefs: [
            backend('stable', 100 - canaryWeight),
            ...(withCanary || canaryWeight > 0 ? [backend('canary', canaryWeight)] : []),
          ],
        },
      ],
    },
  };
}
