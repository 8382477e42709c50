// The router traffic provider against the control plane in a box: the router table in a
// ConfigMap owned by the RankingModel, parsed with the router's own schema (router/table.ts) and
// consulted the way the router does; the router Deployment (same image, `node dist/router/main.js`,
// table mounted from the ConfigMap, the image LIGHTRANK_ROUTER_IMAGE names) and Service; the
// namespace's shared router ServiceAccount, Role (read EndpointSlices) and RoleBinding, and the
// Kubernetes resolver turned on; a canary step shows in the table.
import { describe, expect, it } from 'vitest';
import { parseTable, selectSegment } from '../../router/table.js';
import type { KubeObject } from '../../operator/runtime/kube/types.js';
import { waitFor } from '../harness/cluster.js';
import { condition, rolloutSpec, useRolloutFixture } from './rollout-helpers.js';
import {
  CONFIGMAPS,
  ROLEBINDINGS,
  ROLES,
  SERVICEACCOUNTS,
  SERVICES,
} from '../../operator/runtime/kube/types.js';

const ROUTER_IMAGE = 'registry.test/lightrank-router:2';
const fx = useRolloutFixture('routing-router', { routerImage: ROUTER_IMAGE });
const ns = fx.ns;

type ConfigMap = KubeObject & { data: Record<string, string> };
const IPADDRESSES = { group: 'networking.k8s.io', version: 'v1', plural: 'ipaddresses', kind: 'IPAddress' };
const trackService = (name: string) =>
  fx.models.client.get<KubeObject & { spec: { clusterIP?: string } }>(SERVICES, ns.name, name);
const table = async () => {
  const cm = await fx.models.client.get<ConfigMap>(CONFIGMAPS, ns.name, 'ads-router');
  return { cm, table: parseTable(cm.data['table.json']!) };
};

describe('router routing', () => {
  it('writes a table the router accepts, and the router Deployment and Service', async () => {
    const spec = rolloutSpec(fx.prom.url);
    spec.rollout!.steps = [
      { weight: 20, pauseSeconds: 30 },
      { weight: 100, pauseSeconds: 0 },
    ];
    const created = await fx.models.create('ads', spec);
    await fx.models.waitFor('ads', 'Ready', (m) => condition(m, 'Ready')?.status === 'True');
    const { cm, table: t } = await waitFor('router ConfigMap', table);
    expect(cm.metadata.ownerReferences?.[0]).toMatchObject({ uid: created.metadata.uid, controller: true });
    const route = t.models.get('ads')!;
    expect(route.header).toBe('x-lightrank-segment');
    expect(route.defaultSegment.name).toBe('standard');
    const url = (seg: string, track: string) => `http://ads-${seg}-${track}.${ns.name}.svc:8080`;
    // no rollout yet: no canary Service, and the table names none
    expect(route.segments.get('standard')!.backends.map((b) => [b.track, b.url, b.weight])).toEqual([
      ['stable', url('standard', 'stable'), 100],
    ]);
    // the router picks segments as the RankingModel says: by value (aliases too), else the default
    expect(selectSegment(route, 'shop').backends[0]!.url).toBe(url('shopping', 'stable'));
    expect(selectSegment(route, 'shopping').backends[0]!.url).toBe(url('shopping', 'stable'));
    expect(selectSegment(route, undefined).backends[0]!.url).toBe(url('standard', 'stable'));

    const dep = await fx.models.deployment('ads-router');
    const pod = (
      dep!.spec as {
        template: {
          spec: {
            serviceAccountName?: string;
            containers: {
              command: string[];
              image: string;
              env: { name: string; value: string }[];
              volumeMounts: { mountPath: string }[];
            }[];
            volumes: { configMap?: { name: string } }[];
          };
        };
      }
    ).template.spec;
    expect(pod.containers[0]).toMatchObject({
      command: ['node', 'dist/router/main.js'],
      image: ROUTER_IMAGE,
    });
    expect(pod.containers[0]!.env).toContainEqual({ name: 'LIGHTRANK_ROUTER_RESOLVER', value: 'kubernetes' });
    expect(pod.serviceAccountName).toBe('lightrank-router');
    expect(pod.containers[0]!.volumeMounts[0]!.mountPath).toBe('/etc/lightrank/router');
    expect(pod.volumes[0]!.configMap?.name).toBe('ads-router');
    const svc = await fx.models.client.get(
      { group: '', version: 'v1', plural: 'services', kind: 'Service' },
      ns.name,
      'ads-router',
    );
    expect(svc.metadata.name).toBe('ads-router');

    // the stable track Services are headless: the router reads their EndpointSlices, so no ClusterIP
    // is allocated (no IPAddress object names them); no canary Service before a rollout
    for (const seg of ['standard', 'shopping']) {
      expect((await trackService(`ads-${seg}-stable`)).spec.clusterIP).toBe('None');
      await expect(trackService(`ads-${seg}-canary`)).rejects.toThrow(/404|not found/i);
    }
    const addresses = await fx.models.client.list<KubeObject & { spec: { parentRef?: { name?: string } } }>(
      IPADDRESSES,
      undefined,
    );
    const parents = addresses.items.map((a) => a.spec.parentRef?.name);
    expect(parents).toContain('ads-router');
    expect(parents.filter((n) => /-(stable|canary)$/.test(n ?? '') && n!.startsWith('ads-'))).toEqual([]);

    // the router's identity: the namespace's shared ServiceAccount, allowed to read EndpointSlices, no owner
    const sa = await fx.models.client.get(SERVICEACCOUNTS, ns.name, 'lightrank-router');
    const role = await fx.models.client.get<KubeObject & { rules: unknown[] }>(
      ROLES,
      ns.name,
      'lightrank-router',
    );
    const binding = await fx.models.client.get<
      KubeObject & { roleRef: unknown; subjects: { kind: string; name: string; namespace: string }[] }
    >(ROLEBINDINGS, ns.name, 'lightrank-router');
    for (const o of [sa, role, binding]) expect(o.metadata.ownerReferences).toBeUndefined();
    expect(role.rules).toEqual([
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
    ]);
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: 'lightrank-router' });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'lightrank-router', namespace: ns.name },
    ]);
  });

  it('shows a canary step in the table, only for its segment', async () => {
    await fx.models.setVersion('ads', 'v2');
    await fx.models.waitFor(
      'ads',
      'canary at 20%',
      (m) => m.status?.segments?.find((s) => s.name === 'standard')?.canaryWeight === 20,
    );
    const { table: t } = await table();
    const route = t.models.get('ads')!;
    expect(route.segments.get('standard')!.backends.map((b) => b.weight)).toEqual([80, 20]);
    expect(route.segments.get('shopping')!.backends.map((b) => b.weight)).toEqual([100]);
    expect(t.spec.revision).toMatch(/standard=20/);
    // the rollout's canary Service is there, headless; shopping, not rolling out, has none
    expect((await trackService('ads-standard-canary')).spec.clusterIP).toBe('None');
    await expect(trackService('ads-shopping-canary')).rejects.toThrow(/404|not found/i);
  });

  it('switching to gatewayAPI recreates the headless track Services with a ClusterIP (clusterIP is immutable)', async () => {
    const before = await trackService('ads-standard-stable');
    await fx.models.patch('ads', {
      spec: { routing: { mode: 'gatewayAPI', parentRefs: [{ name: 'edge', sectionName: 'http' }] } },
    });
    // standard's rollout is still in flight: its canary Service too
    for (const [seg, track] of [
      ['standard', 'stable'],
      ['standard', 'canary'],
      ['shopping', 'stable'],
    ])
      await waitFor(`ads-${seg}-${track} with a ClusterIP`, async () => {
        const svc = await trackService(`ads-${seg}-${track}`);
        if (svc.spec.clusterIP && svc.spec.clusterIP !== 'None') return svc;
        throw new Error(`clusterIP ${svc.spec.clusterIP}`);
      });
    expect((await trackService('ads-standard-stable')).metadata.uid).not.toBe(before.metadata.uid);
    await fx.models.waitFor('ads', 'Ready under gatewayAPI', (m) => condition(m, 'Ready')?.status === 'True');
  });
});
