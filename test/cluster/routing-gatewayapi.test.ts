// The gatewayAPI traffic provider against the control plane in a box (Gateway API CRDs
// installed): one HTTPRoute per segment, header matches for its values (the default segment also
// catching requests without one), weighted backendRefs to the segment's Service (its stable pods)
// and, during a rollout, the canary Service; a canary step
// rewrites only its own segment's route; switching the model to router mode removes the routes.
import { describe, expect, it } from 'vitest';
import type { HttpRoute } from '../../operator/traffic/gatewayapi/httproute.js';
import { waitFor } from '../harness/cluster.js';
import { condition, rolloutSpec, useRolloutFixture } from './rollout-helpers.js';
import { CONFIGMAPS, HTTPROUTES } from '../../operator/runtime/kube/types.js';

const fx = useRolloutFixture('routing-gatewayapi');
const ns = fx.ns;

const route = (name: string) => fx.models.client.get<HttpRoute>(HTTPROUTES, ns.name, name);
const weights = (r: HttpRoute) =>
  Object.fromEntries(r.spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight]));

const service = (name: string) =>
  fx.models.client.get<{ metadata: { name: string }; spec: { selector: Record<string, string> } }>(
    { group: '', version: 'v1', plural: 'services', kind: 'Service' },
    ns.name,
    name,
  );

describe('gatewayAPI routing', () => {
  it('writes one HTTPRoute per segment with header matches and weighted backends', async () => {
    const spec = rolloutSpec(fx.prom.url, {
      routing: { mode: 'gatewayAPI', parentRefs: [{ name: 'edge', sectionName: 'http' }] },
    });
    spec.rollout!.steps = [
      { weight: 20, pauseSeconds: 30 },
      { weight: 100, pauseSeconds: 0 },
    ];
    await fx.models.create('ads', spec);
    await fx.models.waitFor('ads', 'Ready', (m) => condition(m, 'Ready')?.status === 'True');
    const standard = await waitFor('HTTPRoute ads-standard', () => route('ads-standard'));
    expect(standard.spec.parentRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge', sectionName: 'http' },
    ]);
    expect(standard.spec.rules).toHaveLength(1);
    expect(standard.spec.rules[0]!.matches).toEqual([
      {
        path: { type: 'PathPrefix', value: '/' },
        headers: [{ type: 'Exact', name: 'x-lightrank-segment', value: 'standard' }],
      },
      { path: { type: 'PathPrefix', value: '/' } }, // the default segment
    ]);
    // no rollout yet: no canary Service, so no backendRef names one
    expect(weights(standard)).toEqual({ 'ads-standard': 100 });
    expect(standard.spec.rules[0]!.backendRefs[0]).toMatchObject({ kind: 'Service', port: 80 });
    const shopping = await route('ads-shopping');
    expect(shopping.spec.rules[0]!.matches.map((m) => m.headers?.[0]?.value)).toEqual(['shopping', 'shop']);
    expect(weights(shopping)).toEqual({ 'ads-shopping': 100 });
    // the segment Service the routes point at selects the stable track; no per-track Service at all
    const svc = await service('ads-standard');
    expect(svc.spec.selector).toMatchObject({
      'lightrank.dev/segment': 'standard',
      'lightrank.dev/track': 'stable',
    });
    await expect(service('ads-standard-canary')).rejects.toThrow(/404|not found/i);
    await expect(service('ads-standard-stable')).rejects.toThrow(/404|not found/i);
    // router mode's objects are not there
    await expect(fx.models.client.get(CONFIGMAPS, ns.name, 'ads-router')).rejects.toThrow(/404|not found/i);
  });

  it('moves only the rolling segment’s weight', async () => {
    const shoppingBefore = await route('ads-shopping');
    await fx.models.setVersion('ads', 'v2');
    await fx.models.waitFor(
      'ads',
      'canary at 20%',
      (m) => m.status?.segments?.find((s) => s.name === 'standard')?.canaryWeight === 20,
    );
    expect(weights(await route('ads-standard'))).toEqual({
      'ads-standard': 80,
      'ads-standard-canary': 20,
    });
    const shoppingAfter = await route('ads-shopping');
    expect(shoppingAfter.metadata.resourceVersion).toBe(shoppingBefore.metadata.resourceVersion);
    // the rollout's canary Service exists and selects the canary track
    expect((await service('ads-standard-canary')).spec.selector).toMatchObject({
      'lightrank.dev/segment': 'standard',
      'lightrank.dev/track': 'canary',
    });
  });

  it('removes its HTTPRoutes when the model switches to router mode', async () => {
    await fx.models.patch('ads', { spec: { routing: { mode: 'router', parentRefs: null } } });
    await waitFor('HTTPRoutes removed', async () => {
      const list = await fx.models.client.list(HTTPROUTES, ns.name);
      return list.items.length === 0;
    });
    await waitFor('router table written', () => fx.models.client.get(CONFIGMAPS, ns.name, 'ads-router'));
  });
});
