import { describe, expect, it } from 'vitest';
import { RankingModelSpecSchema, type RankingModel } from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';
import { twoSegmentSpec } from '../../api/testing.js';
import { parseTable, selectSegment } from '../../router/table.js';
import { buildDeployment, type Service } from '../builders.js';
import { buildTrackService, planTrackService } from './services.js';
import { readServing, revisionOf, servingOf } from '../rollout/serving.js';
import { buildHttpRoute } from './gatewayapi/httproute.js';
import { canaryWeight } from './gatewayapi/provider.js';
import { buildRouterConfigMap, buildRouterDeployment, buildRouterTable } from './router/objects.js';

const model: RankingModel = {
  apiVersion: 'lightrank.dev/v1alpha1',
  kind: 'RankingModel',
  metadata: { name: 'ads', namespace: 'prod', uid: 'u-1' },
  spec: RankingModelSpecSchema.parse({
    ...twoSegmentSpec(),
    routing: { mode: 'gatewayAPI', parentRefs: [{ name: 'gw' }] },
  }),
};
const segments = resolveSegments(model.spec, { image: 'img' });

describe('router table', () => {
  it('is accepted by the router and routes segments, aliases and the default as the spec says', () => {
    const table = buildRouterTable(model, segments, new Map([['standard', 10]]), new Set());
    const cm = buildRouterConfigMap(model, table);
    const route = parseTable((cm.data as Record<string, string>)['table.json']!).models.get('ads')!;
    expect(selectSegment(route, 'standard').backends.map((b) => [b.url, b.weight])).toEqual([
      // stable: the segment's Service (port 80, the stable pods); canary: its track Service
      ['http://ads-standard.prod.svc', 90], // port 80,
      ['http://ads-standard-canary.prod.svc:8080', 10],
    ]);
    expect(selectSegment(route, 'shop').name).toBe('shop');
    expect(selectSegment(route, 'shop').backends[0]!.url).toBe('http://ads-shopping.prod.svc');
    expect(selectSegment(route, 'nope').name).toBe('standard');
    expect(table.revision).toBe('prod/ads@shopping=0,standard=10');
  });

  it('names a canary Service only while it exists or carries weight', () => {
    const backends = (weights: [string, number][], canaryServices: string[]) => {
      const t = buildRouterTable(model, segments, new Map(weights), new Set(canaryServices));
      const segs = t.models.ads!.segments;
      return Object.fromEntries(
        ['standard', 'shopping'].map((s) => [s, segs[s]!.backends.map((b) => `${b.track}=${b.weight}`)]),
      );
    };
    expect(backends([], [])).toEqual({ standard: ['stable=100'], shopping: ['stable=100'] });
    expect(backends([], ['shopping'])).toEqual({
      standard: ['stable=100'],
      shopping: ['stable=100', 'canary=0'],
    });
    expect(backends([['standard', 20]], [])).toEqual({
      standard: ['stable=80', 'canary=20'],
      shopping: ['stable=100'],
    });
  });

  it('is the same table whatever else the weights map holds (no rewrite for a status that lists more)', () => {
    const table = buildRouterTable(model, segments, new Map([['standard', 10]]), new Set());
    const more = new Map([
      ['shop', 0],
      ['standard', 10],
      ['shopping', 0],
      ['gone', 30],
    ]);
    expect(buildRouterTable(model, segments, more, new Set())).toEqual(table);
  });
});

describe('router Deployment', () => {
  it("runs as the namespace's shared router ServiceAccount with the Kubernetes resolver", () => {
    const d = buildRouterDeployment(model, 'reg/router:3', {});
    const pod = (d.spec.template as { spec: Record<string, unknown> }).spec as {
      serviceAccountName: string;
      containers: { image: string; env: { name: string; value: string }[] }[];
    };
    expect(pod.serviceAccountName).toBe('lightrank-router');
    expect(pod.containers[0]!.image).toBe('reg/router:3');
    expect(pod.containers[0]!.env).toContainEqual({ name: 'LIGHTRANK_ROUTER_RESOLVER', value: 'kubernetes' });
  });
});

describe('HTTPRoute', () => {
  it('matches the header values, the default segment also without a header, and weighs the tracks', () => {
    const r = buildHttpRoute(model, segments[0]!, 25, true);
    expect(r.spec.rules[0]!.matches).toHaveLength(2);
    expect(r.spec.rules[0]!.backendRefs.map((b) => [b.name, b.port, b.weight])).toEqual([
      ['ads-standard', 80, 75],
      ['ads-standard-canary', 8080, 25],
    ]);
    const shopping = buildHttpRoute(model, segments[1]!, 0, false);
    expect(shopping.spec.rules[0]!.matches.every((m) => m.headers?.length === 1)).toBe(true);
    // no canary Service (no rollout): no backendRef to one
    expect(shopping.spec.rules[0]!.backendRefs.map((b) => b.name)).toEqual(['ads-shopping']);
    expect(buildHttpRoute(model, segments[1]!, 0, true).spec.rules[0]!.backendRefs).toHaveLength(2);
  });

  it("reads the canary weight from the canary backendRef by name, not from a stable one ending in '-canary'", () => {
    const spec = twoSegmentSpec();
    spec.segments[1]!.name = 'canary'; // its segment Service, the stable backend, is `ads-canary`
    const m: RankingModel = { ...model, spec: RankingModelSpecSchema.parse(spec) };
    const seg = resolveSegments(m.spec, { image: 'img' }).find((s) => s.name === 'canary')!;
    expect(canaryWeight(buildHttpRoute(m, seg, 0, false), 'ads-canary-canary')).toBe(0);
    expect(canaryWeight(buildHttpRoute(m, seg, 30, true), 'ads-canary-canary')).toBe(30);
  });
});

describe('serving records', () => {
  it('reads back from a built Deployment what it serves', () => {
    const d = buildDeployment(model, segments[1]!, 'stable', { sidecarImage: 'img' });
    expect(readServing(d, ['ctr'])).toEqual(servingOf(segments[1]!));
  });
  it('changes revision with the model or snapshot source, not with the poll interval', () => {
    const base = servingOf(segments[1]!);
    expect(revisionOf({ ...base, snapshot: { ...base.snapshot, pollIntervalSeconds: 99 } })).toBe(
      revisionOf(base),
    );
    expect(revisionOf({ ...base, snapshot: { ...base.snapshot, uri: 'file:///other' } })).not.toBe(
      revisionOf(base),
    );
    expect(revisionOf({ ...base, model: { ...base.model, version: 'v8' } })).not.toBe(revisionOf(base));
  });
});

describe('per-track Services', () => {
  const routerModel: RankingModel = {
    ...model,
    spec: RankingModelSpecSchema.parse({ ...twoSegmentSpec(), routing: { mode: 'router' } }),
  };
  const seg = segments[0]!;

  it('are headless in router mode (the router resolves their EndpointSlices) and have a ClusterIP under Gateway API', () => {
    const headless = buildTrackService(routerModel, seg, 'canary');
    expect(headless.spec).toMatchObject({
      type: 'ClusterIP',
      clusterIP: 'None',
      selector: {
        'lightrank.dev/model': 'ads',
        'lightrank.dev/segment': 'standard',
        'lightrank.dev/track': 'canary',
      },
    });
    expect(buildTrackService(model, seg, 'canary').spec.clusterIP).toBeUndefined();
  });

  it('are recreated when headless and a ClusterIP is wanted; a live ClusterIP is kept in router mode', () => {
    const headless = buildTrackService(routerModel, seg, 'canary');
    const clusterIp = buildTrackService(model, seg, 'canary');
    const live = (s: Service, ip: string) => ({ ...s, spec: { ...s.spec, clusterIP: ip } });
    expect(planTrackService(headless, undefined)).toEqual({ recreate: false, desired: headless });
    expect(planTrackService(headless, live(headless, 'None'))).toEqual({
      recreate: false,
      desired: headless,
    });
    // clusterIP is immutable: gatewayAPI after router mode needs a new Service
    expect(planTrackService(clusterIp, live(headless, 'None'))).toEqual({
      recreate: true,
      desired: clusterIp,
    });
    // router mode after gatewayAPI (or an earlier version): the ClusterIP one serves the router too
    const kept = planTrackService(headless, live(clusterIp, '10.96.0.7'));
    expect(kept.recreate).toBe(false);
    expect(kept.desired.spec.clusterIP).toBeUndefined();
    expect(kept.desired.spec.selector).toEqual(headless.spec.selector);
  });
});
