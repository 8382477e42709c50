// One router per namespace (spec.routing.routerScope: namespace) against the control plane in a box,
// with the operator in-process: two models share one Deployment, Service and ConfigMap `lightrank`
// that no model owns, the ConfigMap holding one key per model;
// a real router reading that ConfigMap as a directory (written the way the kubelet writes a volume)
// with the Kubernetes resolver reaches each model's segments through the operator's Services and their
// EndpointSlices (kwok pod IPs in 10.244/16 mapped to loopback, where real upstreams stand in for the
// scoring pods); a rollout's weight moves only its model's key; a model deleted or switched to its own
// router gives its key up; the last one takes the shared objects with it; the API server refuses
// namespace scope in gatewayAPI mode; a user's object named `lightrank` is refused, never taken over;
// a model whose key would take the table past a ConfigMap's 1 MiB is refused with the reason.
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { createRouter, type Router } from '../../router/app.js';
import { KubernetesResolver, parseAddressMap } from '../../router/resolve-kubernetes.js';
import { parseTable } from '../../router/table.js';
import {
  CONFIGMAPS,
  DEPLOYMENTS,
  PODS,
  SERVICES,
  type KubeObject,
  type ResourceRef,
} from '../../operator/runtime/kube/types.js';
import { RANKING_MODELS } from '../../operator/reconciler.js';
import { CONFIGMAP_MAX_BYTES } from '../../operator/traffic/router/shared.js';
import { clients, waitFor } from '../harness/cluster.js';
import { ConfigMapKeys, request } from '../router/helpers.js';
import { condition, rolloutSpec, useRolloutFixture } from './rollout-helpers.js';

const fx = useRolloutFixture('shared-router');
const ns = fx.ns;
const SHARED = 'lightrank';
const MAP = parseAddressMap('10.244.0.0/16=127.244.0.0/16');
const logger = createLogger('router-test', { level: 'silent' });

type ConfigMap = KubeObject & { data?: Record<string, string> };
const present = (ref: ResourceRef, name: string): Promise<KubeObject | undefined> =>
  fx.models.client.get(ref, ns.name, name).catch((err: unknown) => {
    if (/404|not ?found/i.test(String(err))) return undefined;
    throw err;
  });
const sharedTable = () => present(CONFIGMAPS, SHARED) as Promise<ConfigMap | undefined>;
const keys = async () => Object.keys((await sharedTable())?.data ?? {}).sort();
const spec = (over: Record<string, unknown> = {}) =>
  rolloutSpec(fx.prom.url, { routing: { routerScope: 'namespace' }, ...over });
const ready = (name: string) =>
  fx.models.waitFor(name, 'Ready', (m) => condition(m, 'Ready')?.status === 'True', 90_000);
const sharedObjects = async () =>
  Promise.all([DEPLOYMENTS, SERVICES, CONFIGMAPS].map((ref) => present(ref, SHARED)));
const canaryWeight = async (model: string): Promise<number | undefined> => {
  const content = (await sharedTable())?.data?.[`${model}.json`];
  if (!content) return undefined;
  const seg = parseTable(content).models.get(model)?.segments.get('standard');
  return seg?.backends.find((b) => b.track === 'canary')?.weight ?? 0;
};

const servers: http.Server[] = [];
const routers: Router[] = [];
let dir: string | undefined;
afterAll(async () => {
  for (const r of routers) await r.close(500);
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A real upstream on the loopback address a kwok pod IP maps to, answering `{ upstream: <pod> }`. */
async function standIn(pod: KubeObject & { status?: { podIP?: string } }): Promise<void> {
  const host = MAP(pod.status!.podIP!);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ upstream: pod.metadata.name, labels: pod.metadata.labels })),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(8080, host, resolve);
  });
  servers.push(server);
}

describe('one router per namespace', () => {
  it('refuses routerScope namespace in gatewayAPI mode at the API server, with the message', async () => {
    await expect(
      fx.models.create(
        'gw',
        spec({ routing: { mode: 'gatewayAPI', routerScope: 'namespace', parentRefs: [{ name: 'gw' }] } }),
      ),
    ).rejects.toThrow(/routerScope namespace needs mode router/);
  });

  it('two models share one router Deployment, Service and table ConfigMap, one key each', async () => {
    await fx.models.create('a', spec());
    await fx.models.create('b', spec());
    const models = await Promise.all([ready('a'), ready('b')]);
    for (const model of models)
      expect((model as { status?: { url?: string } }).status?.url).toBe(
        `http://lightrank.${ns.name}.svc:8080`,
      );
    const [dep, svc, cm] = await sharedObjects();
    for (const o of [dep, svc, cm]) {
      expect(o, 'shared router object').toBeDefined();
      expect(o!.metadata.ownerReferences).toBeUndefined();
    }
    // no model has a router of its own
    for (const m of ['a', 'b']) expect(await present(DEPLOYMENTS, `${m}-router`)).toBeUndefined();
    const pod = (
      dep!.spec as {
        template: {
          spec: {
            serviceAccountName: string;
            containers: { env: { name: string; value: string }[] }[];
            volumes: { configMap?: { name: string } }[];
          };
        };
      }
    ).template.spec;
    expect(pod.serviceAccountName).toBe('lightrank-router');
    expect(pod.containers[0]!.env).toContainEqual({
      name: 'LIGHTRANK_ROUTER_TABLE',
      value: '/etc/lightrank/router',
    });
    expect(pod.volumes[0]!.configMap?.name).toBe(SHARED);

    const table = (await sharedTable())!;
    expect(Object.keys(table.data!).sort()).toEqual(['a.json', 'b.json']);
    for (const m of ['a', 'b']) expect([...parseTable(table.data![`${m}.json`]!).models.keys()]).toEqual([m]);
  });

  it("routes each model's requests through the shared table to its own segments", async () => {
    const pods = await fx.models.client.list<KubeObject & { status?: { podIP?: string } }>(PODS, ns.name, {
      labelSelector: 'lightrank.dev/model in (a,b)',
    });
    expect(pods.items.length).toBeGreaterThanOrEqual(6); // 2 models × (2 standard + 1 shopping)
    for (const p of pods.items) await standIn(p);
    // the ConfigMap as the kubelet mounts it: one file per key
    dir = await mkdtemp(join(tmpdir(), 'shared-router-'));
    const volume = new ConfigMapKeys(dir);
    await volume.write((await sharedTable())!.data!);
    const router = createRouter({
      tablePath: dir,
      logger,
      resolver: new KubernetesResolver({ kubeConfig: clients().kc, logger, mapAddress: MAP }),
    });
    routers.push(router);
    const base = `http://127.0.0.1:${(await router.listen(0, '127.0.0.1')).port}`;
    expect(router.source.current?.models.size).toBe(2);
    const via = async (model: string, segment?: string) => {
      const reply = await request(`${base}/v2/models/${model}/infer`, {
        method: 'POST',
        body: '{}',
        headers: segment ? { 'x-lightrank-segment': segment } : {},
      });
      expect(reply.status, reply.body).toBe(200);
      return (JSON.parse(reply.body) as { labels: Record<string, string> }).labels;
    };
    for (const m of ['a', 'b']) {
      // until the resolver lists each segment's slices with a ready endpoint (kwok marks pods ready
      // one by one), a request can find none: wait for both segments
      for (const seg of [undefined, 'shop'])
        await waitFor(
          `${m} (${seg ?? 'default'} segment) through the router`,
          async () => (await via(m, seg).catch(() => undefined)) ?? false,
        );
      expect(await via(m)).toMatchObject({ 'lightrank.dev/model': m, 'lightrank.dev/segment': 'standard' });
      expect(await via(m, 'shop')).toMatchObject({
        'lightrank.dev/model': m,
        'lightrank.dev/segment': 'shopping',
      });
    }
  });

  it("a rollout's weight change edits only its model's key", async () => {
    const before = (await sharedTable())!.data!['b.json'];
    await fx.models.setVersion('a', 'v2');
    await waitFor(
      'a canary weight > 0 in the shared table',
      async () => ((await canaryWeight('a')) ?? 0) > 0,
    );
    expect((await sharedTable())!.data!['b.json']).toBe(before);
    // the rollout ends (promoted): the canary leaves a's key, b's is as it was
    await fx.models.waitFor(
      'a',
      'rollout done',
      (m) => {
        const s = m.status?.segments?.find((x) => x.name === 'standard');
        return s?.rolloutPhase === 'Stable' && s.stableVersion === 'v2';
      },
      120_000,
    );
    expect((await sharedTable())!.data!['b.json']).toBe(before);
  });

  it('a deleted model gives its key up and the router stays; switching scope moves the model both ways; the last model takes the shared router with it', async () => {
    await fx.models.client.delete(RANKING_MODELS, ns.name, 'b');
    await waitFor('b.json removed', async () => (await keys()).join() === 'a.json');
    expect((await sharedObjects()).every((o) => o !== undefined)).toBe(true);

    // namespace → model: a's own router, its key gone, and with no other user the shared router goes
    await fx.models.patch('a', { spec: { routing: { routerScope: 'model' } } });
    await waitFor('a-router and no shared router', async () => {
      const own = await present(DEPLOYMENTS, 'a-router');
      return own !== undefined && (await sharedObjects()).every((o) => o === undefined);
    });
    const own = (await present(CONFIGMAPS, 'a-router')) as ConfigMap;
    expect([...parseTable(own.data!['table.json']!).models.keys()]).toEqual(['a']);

    // model → namespace: the shared router again with a's key, a's own router deleted
    await fx.models.patch('a', { spec: { routing: { routerScope: 'namespace' } } });
    await waitFor('shared router with a.json, no a-router', async () => {
      const gone = await Promise.all(
        [DEPLOYMENTS, SERVICES, CONFIGMAPS].map(
          async (ref) => (await present(ref, 'a-router')) === undefined,
        ),
      );
      return gone.every(Boolean) && (await keys()).join() === 'a.json';
    });
    await ready('a');

    // the last model deleted: the Deployment, Service and ConfigMap go
    await fx.models.client.delete(RANKING_MODELS, ns.name, 'a');
    await waitFor('shared router deleted', async () => (await sharedObjects()).every((o) => o === undefined));
  });

  it("never takes over a user's object named lightrank: the model says why, and goes on once the name is free", async () => {
    const theirs = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: SHARED, namespace: ns.name },
      data: { mine: 'yes' },
    };
    await fx.models.client.create(CONFIGMAPS, theirs);
    await fx.models.create('c', spec());
    const degraded = await fx.models.waitFor(
      'c',
      'Degraded naming the ConfigMap',
      (m) =>
        /ConfigMap .*\/lightrank exists and was not made by lightrank/.test(
          condition(m, 'Degraded')?.message ?? '',
        ),
      90_000,
    );
    expect(condition(degraded, 'Degraded')?.message).toMatch(/routerScope: model/);
    // left as it was: no key of the model's, no label of the operator's; no router pods either
    const cm = (await sharedTable())!;
    expect(cm.data).toEqual({ mine: 'yes' });
    expect(cm.metadata.labels?.['app.kubernetes.io/managed-by']).toBeUndefined();
    expect(await present(DEPLOYMENTS, SHARED)).toBeUndefined();

    // the name freed: the next retry builds the shared router
    await fx.models.client.delete(CONFIGMAPS, ns.name, SHARED);
    await ready('c');
    expect(await keys()).toEqual(['c.json']);
    await fx.models.client.delete(RANKING_MODELS, ns.name, 'c');
    await waitFor('shared router deleted', async () => (await sharedObjects()).every((o) => o === undefined));
  });

  it('refuses a model whose key would take the shared table past 1 MiB: the model says why, the other keys stay, and it goes on once there is room', async () => {
    await fx.models.create('f', spec());
    await ready('f');
    const before = (await sharedTable())!;
    const fTable = before.data!['f.json']!;
    // a key of no model's (the operator leaves it; it stands in for hundreds of models' tables)
    // leaves 100 bytes of room: less than a model's table, which is several hundred bytes
    const used = Buffer.byteLength('f.json') + Buffer.byteLength(fTable);
    const pad = 'x'.repeat(CONFIGMAP_MAX_BYTES - 100 - used - 'padding'.length);
    await fx.models.client.replace(CONFIGMAPS, { ...before, data: { ...before.data, padding: pad } });

    await fx.models.create('g', spec());
    const degraded = await fx.models.waitFor(
      'g',
      'Degraded: no room in the shared table',
      (m) => /shared router table .* has no room for g\.json/.test(condition(m, 'Degraded')?.message ?? ''),
      90_000,
    );
    expect(condition(degraded, 'Degraded')?.message).toMatch(
      /most 1048576 \(1 MiB\): set spec\.routing\.routerScope: model/,
    );
    const after = (await sharedTable())!;
    expect(Object.keys(after.data!).sort()).toEqual(['f.json', 'padding']);
    expect(after.data!['f.json']).toBe(fTable);

    // room again: the next retry writes the key
    await fx.models.client.replace(CONFIGMAPS, { ...after, data: { 'f.json': fTable } });
    await ready('g');
    expect(await keys()).toEqual(['f.json', 'g.json']);
    for (const m of ['f', 'g']) await fx.models.client.delete(RANKING_MODELS, ns.name, m);
    await waitFor('shared router deleted', async () => (await sharedObjects()).every((o) => o === undefined));
  });
});
