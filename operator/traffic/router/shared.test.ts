import { describe, expect, it } from 'vitest';
import { rankingModel } from '../../testing.js';
import { minimalSpec } from '../../../api/testing.js';
import { RankingModelSpecSchema } from '../../../api/rankingmodel.js';
import { CONFIGMAPS, DEPLOYMENTS, SERVICES } from '../../runtime/kube/types.js';
import { buildRouterTable } from './objects.js';
import { resolveSegments } from '../../../api/resolve.js';
import {
  buildSharedRouter,
  buildSharedTable,
  checkSharedTableRoom,
  CONFIGMAP_MAX_BYTES,
  SharedTableFullError,
  tableContent,
  isSharedRouterObject,
  modelOfKey,
  SHARED_ROUTER_NAME,
  tableKey,
  usesSharedRouter,
} from './shared.js';
import { parseTable } from '../../../router/table.js';

describe('the namespace shared router', () => {
  it('is a Deployment, Service and labels-only ConfigMap named lightrank, owned by no model, reading the table directory', () => {
    const objs = buildSharedRouter('ns1', 'img:1', { imagePullPolicy: 'Never' });
    expect(objs.map(([ref, o]) => [ref.kind, o.metadata.name, o.metadata.namespace])).toEqual([
      [CONFIGMAPS.kind, 'lightrank', 'ns1'],
      [DEPLOYMENTS.kind, 'lightrank', 'ns1'],
      [SERVICES.kind, 'lightrank', 'ns1'],
    ]);
    for (const [, o] of objs) {
      expect(o.metadata.ownerReferences).toBeUndefined();
      expect(isSharedRouterObject(o)).toBe(true);
    }
    expect((objs[0]![1] as { data?: unknown }).data).toBeUndefined();
    const pod = (
      objs[1]![1].spec as {
        template: {
          metadata: { labels: Record<string, string> };
          spec: {
            containers: { image: string; env: { name: string; value: string }[]; resources: unknown }[];
            volumes: { configMap?: { name: string } }[];
          };
        };
      }
    ).template;
    expect(pod.spec.containers[0]!.image).toBe('img:1');
    expect(pod.spec.containers[0]!.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' } });
    expect(pod.spec.containers[0]!.env).toContainEqual({
      name: 'LIGHTRANK_ROUTER_TABLE',
      value: '/etc/lightrank/router',
    });
    expect(pod.spec.volumes[0]!.configMap?.name).toBe(SHARED_ROUTER_NAME);
    // a model's own router pods are selected by lightrank.dev/router=<model>, never by this label
    expect(pod.metadata.labels['lightrank.dev/router']).toBeUndefined();
    expect((objs[2]![1].spec as { selector: Record<string, string> }).selector).toEqual({
      'lightrank.dev/shared-router': 'namespace',
    });
  });

  it('holds one key per model, the version-1 table of that model alone, compact', () => {
    const spec = RankingModelSpecSchema.parse({ ...minimalSpec(), routing: { routerScope: 'namespace' } });
    const model = rankingModel('ads', 'ns1', spec) as Parameters<typeof buildRouterTable>[0];
    model.spec = spec;
    expect(usesSharedRouter(model)).toBe(true);
    expect(usesSharedRouter({ spec: { routing: { mode: 'router' } } })).toBe(false);
    expect(usesSharedRouter({ spec: { routing: { mode: 'gatewayAPI', routerScope: 'namespace' } } })).toBe(
      false,
    );
    const table = buildRouterTable(model, resolveSegments(spec, { image: 'i' }), new Map(), new Set());
    const content = tableContent(table);
    expect(content).not.toContain('\n  ');
    expect([...parseTable(content).models.keys()]).toEqual(['ads']);
    expect(tableKey('ads')).toBe('ads.json');
    expect(modelOfKey('ads.json')).toBe('ads');
    expect(modelOfKey('README')).toBeUndefined();
    expect(buildSharedTable('ns1')).toEqual(buildSharedRouter('ns1', 'i', {})[0]![1]);
  });

  it("refuses a key that would take the table past a ConfigMap's 1 MiB, counting every key and value, a replaced key once", () => {
    const key = tableKey('late');
    const value = 'v'.repeat(1000);
    const mine = key.length + value.length;
    // others exactly at the room left: fits; one byte more: refused, naming sizes and the way out
    const filler = (n: number): Record<string, string> => ({ 'a.json': 'x'.repeat(n - 'a.json'.length) });
    expect(() => checkSharedTableRoom('ns', filler(CONFIGMAP_MAX_BYTES - mine), key, value)).not.toThrow();
    const full = filler(CONFIGMAP_MAX_BYTES - mine + 1);
    expect(() => checkSharedTableRoom('ns', full, key, value)).toThrow(SharedTableFullError);
    expect(() => checkSharedTableRoom('ns', full, key, value)).toThrow(
      `ConfigMap ns/lightrank) has no room for late.json (${mine} bytes): its 1 other keys hold ${CONFIGMAP_MAX_BYTES - mine + 1} bytes`,
    );
    expect(() => checkSharedTableRoom('ns', full, key, value)).toThrow(/routerScope: model/);
    // the model's own old value is replaced, not added to: a bigger table than room allows fits
    // when it replaces one of its size
    expect(() =>
      checkSharedTableRoom('ns', { ...filler(CONFIGMAP_MAX_BYTES - mine), [key]: value }, key, value),
    ).not.toThrow();
    // UTF-8 bytes, not UTF-16 code units
    const wide = 'é'.repeat(CONFIGMAP_MAX_BYTES / 2);
    expect(() => checkSharedTableRoom('ns', {}, key, wide)).toThrow(SharedTableFullError);
  });
});
