// The router traffic provider against the control plane in a box: the router table in a
// ConfigMap owned by the RankingModel, parsed with the router's own schema (router/table.ts) and
// consulted the way the router does; the router Deployment (same image, `node dist/router/main.js`,
// table mounted from the ConfigMap, the image LIGHTRANK_ROUTER_IMAGE names) and Service; the
// namespace's shared router ServiceAccount, Role (read EndpointSlices) and RoleBinding, and the
// Kubernetes resolver turned on; the segment's Service (stable pods only) as the stable backend; a
// canary step shows in the table; an earlier version's `-stable` Service is retired after a delay.
import { describe, expect, it } from 'vitest';
import { parseTable, selectSegment } from '../../router/table.js';
import type { KubeObject } from '../../operator/runtime/kube/types.js';
import { waitFor } from '../harness/cluster.js';
import {
  condition,
  IMAGE,
  rolloutSpec,
  SCALE_DOWN_DELAY_SECONDS,
  useRolloutFixture,
} from './rollout-helpers.js';
import { RankingModelSpecSchema, type RankingModel } from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';
import { buildTrackService } from '../../operator/traffic/services.js';
import { UNROUTED_SINCE_ANNOTATION } from '../../operator/traffic/legacy-stable.js';
import {
  CONFIGMAPS,
  PODS,
  ROLEBINDINGS,
  ROLES,
  SERVICEACCOUNTS,
  SERVICES,
} from '../../operator/runtime/kube/types.js';

const ROUTER_IMAGE = 'registry.test/lightrank-router:2';
const fx = useRolloutFixture('routing-router', { routerImage: ROUTER_IMAGE });
const ns = fx.ns;

type ConfigMap = KubeObject & { data: Record<string, string> };
const ENDPOINTSLICES = {
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  kind: 'EndpointSlice',
};
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
    // the stable backend is the segment's Service, port 80 (the URL as the router normalises it)
    const url = (seg: string) => `http://ads-${seg}.${ns.name}.svc`;
    // no rollout yet: no canary Service, and the table names none
    expect(route.segments.get('standard')!.backends.map((b) => [b.track, b.url, b.port, b.weight])).toEqual([
      ['stable', url('standard'), 80, 100],
    ]);
    // the router picks segments as the RankingModel says: by value (aliases too), else the default
    expect(selectSegment(route, 'shop').backends[0]!.url).toBe(url('shopping'));
    expect(selectSegment(route, 'shopping').backends[0]!.url).toBe(url('shopping'));
    expect(selectSegment(route, undefined).backends[0]!.url).toBe(url('standard'));

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

    // no per-track Service before a rollout: the segment's Service (stable pods only) is the stable
    // backend, and no IPAddress object names a track Service
    for (const seg of ['standard', 'shopping']) {
      const segSvc = await fx.models.client.get<KubeObject & { spec: { selector: Record<string, string> } }>(
        SERVICES,
        ns.name,
        `ads-${seg}`,
      );
      expect(segSvc.spec.selector).toEqual({
        'lightrank.dev/model': 'ads',
        'lightrank.dev/segment': seg,
        'lightrank.dev/track': 'stable',
      });
      await expect(trackService(`ads-${seg}-stable`)).rejects.toThrow(/404|not found/i);
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
    // the stable backend (the segment's Service) lists the stable pods and never a canary pod: a
    // request the table gives stable (or one sent to the Service directly) cannot reach the canary
    const ips = async (track: string) =>
      (
        await fx.models.client.list<KubeObject & { status?: { podIP?: string } }>(PODS, ns.name, {
          labelSelector: `lightrank.dev/model=ads,lightrank.dev/segment=standard,lightrank.dev/track=${track}`,
        })
      ).items
        .map((p) => p.status?.podIP)
        .filter((ip): ip is string => Boolean(ip));
    const canaryIps = await waitFor('canary pod IPs', async () => {
      const got = await ips('canary');
      if (got.length === 0) throw new Error('no canary pod IP yet');
      return got;
    });
    const stableIps = await ips('stable');
    const sliced = await waitFor('the segment EndpointSlice lists the stable pods', async () => {
      const slices = await fx.models.client.list<KubeObject & { endpoints?: { addresses: string[] }[] }>(
        ENDPOINTSLICES,
        ns.name,
        { labelSelector: 'kubernetes.io/service-name=ads-standard' },
      );
      const listed = slices.items.flatMap((sl) => (sl.endpoints ?? []).flatMap((e) => e.addresses));
      if (stableIps.length === 0 || !stableIps.every((ip) => listed.includes(ip)))
        throw new Error(`listed ${listed.join(',')}, stable ${stableIps.join(',')}`);
      return listed;
    });
    expect(sliced.filter((ip) => canaryIps.includes(ip))).toEqual([]);
  });

  it("retires an earlier version's stable Service only scaleDownDelaySeconds after routing stopped naming it", async () => {
    // what an earlier version made for every segment: `<m>-<s>-stable`, the table's stable backend
    const live = await fx.models.get('ads');
    const model = { ...live, spec: RankingModelSpecSchema.parse(live.spec) } as RankingModel;
    const shopping = resolveSegments(model.spec, { image: IMAGE }).find((s) => s.name === 'shopping')!;
    await fx.models.client.create(SERVICES, buildTrackService(model, shopping, 'stable'));
    const marked = await waitFor('ads-shopping-stable marked', async () => {
      const svc = await trackService('ads-shopping-stable');
      const since = svc.metadata.annotations?.[UNROUTED_SINCE_ANNOTATION];
      if (!since) throw new Error('not marked yet');
      return Date.parse(since);
    });
    await waitFor('ads-shopping-stable deleted', () =>
      trackService('ads-shopping-stable').then(
        () => {
          throw new Error('still there');
        },
        (err: Error) => {
          if (!/404|not found/i.test(err.message)) throw err;
          return true;
        },
      ),
    );
    expect(Date.now()).toBeGreaterThanOrEqual(marked + SCALE_DOWN_DELAY_SECONDS * 1000);
    // routing named the segment's Service all along
    const { table: t } = await table();
    expect(
      t.models
        .get('ads')!
        .segments.get('shopping')!
        .backends.map((b) => b.url),
    ).toEqual([`http://ads-shopping.${ns.name}.svc`]);
  });

  it('switching to gatewayAPI recreates the headless canary Service with a ClusterIP (clusterIP is immutable)', async () => {
    // standard's rollout is still in flight: its canary Service is there
    const before = await trackService('ads-standard-canary');
    await fx.models.patch('ads', {
      spec: { routing: { mode: 'gatewayAPI', parentRefs: [{ name: 'edge', sectionName: 'http' }] } },
    });
    await waitFor('ads-standard-canary with a ClusterIP', async () => {
      const svc = await trackService('ads-standard-canary');
      if (svc.spec.clusterIP && svc.spec.clusterIP !== 'None') return svc;
      throw new Error(`clusterIP ${svc.spec.clusterIP}`);
    });
    expect((await trackService('ads-standard-canary')).metadata.uid).not.toBe(before.metadata.uid);
    await fx.models.waitFor('ads', 'Ready under gatewayAPI', (m) => condition(m, 'Ready')?.status === 'True');
  });
});
