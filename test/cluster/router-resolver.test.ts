// The router's Kubernetes endpoint resolver against the real API server: a Service without a
// selector whose EndpointSlice lists two real upstreams (addresses in 10.77/16, mapped to 127.0/16
// where they listen: the API server refuses loopback addresses in slices). Given a router whose
// table names the Service by its DNS name, when requests go through, then they reach both
// endpoints, follow the slice as it changes, fail as 502 with no ready endpoint; and a router whose
// ServiceAccount may not list EndpointSlices falls back to DNS and stays ready.
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { createRouter, type Router } from '../../router/app.js';
import { KubernetesResolver, parseAddressMap } from '../../router/resolve-kubernetes.js';
import { clients, serverSideApply, useTestNamespace, waitFor } from '../harness/cluster.js';
import { ConfigMapDir, request, table } from '../router/helpers.js';

const ns = useTestNamespace('resolver');
const MAP = parseAddressMap('10.77.0.0/16=127.0.0.0/16');
const logger = createLogger('router-test', { level: 'silent' });

/** A real upstream answering `{ upstream: name }`, on `host:port` (port 0: any). */
async function upstream(name: string, host: string, port = 0): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ upstream: name })),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}

describe('router with LIGHTRANK_ROUTER_RESOLVER=kubernetes', () => {
  const { kc, core } = clients();
  let a: http.Server;
  let b: http.Server;
  let port: number;
  let dir: string;
  const routers: Router[] = [];

  const slice = (endpoints: { ip: string; ready: boolean }[], port: number, service = 'backend') =>
    serverSideApply(
      kc,
      `/apis/discovery.k8s.io/v1/namespaces/${ns.name}/endpointslices/${service}-1`,
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${service}-1`,
          namespace: ns.name,
          labels: { 'kubernetes.io/service-name': service },
        },
        addressType: 'IPv4',
        ports: [{ name: 'http', port, protocol: 'TCP' }],
        endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready } })),
      },
      'router-resolver-test',
    );

  async function startRouter(
    kubeConfig: KubeConfig,
    segment: Parameters<typeof table>[0]['x'] = { stable: `http://backend.${ns.name}.svc:8080` },
  ): Promise<string> {
    const files = new ConfigMapDir(await mkdtemp(join(dir, 'table-')));
    await files.write(table({ standard: segment }));
    const router = createRouter({
      tablePath: files.path,
      logger,
      resolver: new KubernetesResolver({ kubeConfig, logger, mapAddress: MAP, restartDelayMs: 200 }),
    });
    routers.push(router);
    const addr = await router.listen(0, '127.0.0.1');
    return `http://127.0.0.1:${addr.port}`;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'router-resolver-'));
    // both upstreams on one port, on two loopback addresses: 127.0.0.1 and 127.0.0.2
    a = await upstream('a', '127.0.0.1');
    port = (a.address() as AddressInfo).port;
    b = await upstream('b', '127.0.0.2', port);
    await core.createNamespacedService({
      namespace: ns.name,
      body: { metadata: { name: 'backend' }, spec: { ports: [{ name: 'http', port: 8080 }] } },
    });
  });

  afterAll(async () => {
    for (const r of routers) await r.close(1_000);
    for (const s of [a, b]) await new Promise((r) => s?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('balances over the ready endpoints, follows the slice, and answers 502 without one', async () => {
    await slice(
      [
        { ip: '10.77.0.1', ready: true },
        { ip: '10.77.0.2', ready: true },
      ],
      port,
    );
    const url = await startRouter(kc);
    await waitFor('router ready', async () => (await request(`${url}/readyz`)).status === 200);
    const send = () => request(`${url}/v1/models/demo/rank`, { method: 'POST', body: '{}' });
    const upstreams = async (n: number) => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++)
        seen.push((JSON.parse((await send()).body) as { upstream: string }).upstream);
      return seen;
    };
    const both = await upstreams(10);
    expect(both.filter((u) => u === 'a').length).toBe(5);
    expect(both.filter((u) => u === 'b').length).toBe(5);

    await slice(
      [
        { ip: '10.77.0.1', ready: false },
        { ip: '10.77.0.2', ready: true },
      ],
      port,
    );
    await waitFor('only b receives', async () => (await upstreams(4)).every((u) => u === 'b'));

    await slice([{ ip: '10.77.0.2', ready: false }], port);
    const failed = await waitFor('502 without a ready endpoint', async () => {
      const r = await send();
      return r.status === 502 ? r : undefined;
    });
    expect(JSON.parse(failed.body)).toMatchObject({ code: 'upstream_unavailable' });
    expect(failed.body).toContain(`Service ${ns.name}/backend has no ready endpoint`);
  });

  it("sends a track's share to the segment's other track while it has no ready endpoint", async () => {
    for (const name of ['fb-stable', 'fb-canary'])
      await core.createNamespacedService({
        namespace: ns.name,
        body: { metadata: { name }, spec: { ports: [{ name: 'http', port: 8080 }] } },
      });
    await slice([{ ip: '10.77.0.1', ready: true }], port, 'fb-stable');
    // the canary's Service is there, its pods not ready yet: the moment before its slice lists them
    await slice([{ ip: '10.77.0.2', ready: false }], port, 'fb-canary');
    const url = await startRouter(kc, {
      stable: `http://fb-stable.${ns.name}.svc:8080`,
      canary: `http://fb-canary.${ns.name}.svc:8080`,
      canaryWeight: 50,
    });
    await waitFor('router ready', async () => (await request(`${url}/readyz`)).status === 200);
    const send = async () => {
      const r = await request(`${url}/v1/models/demo/rank`, { method: 'POST', body: '{}' });
      return { status: r.status, track: r.headers['x-lightrank-track'], upstream: r.body };
    };
    const fallbacks = async () => {
      const text = (await request(`${url}/metrics`)).body;
      const line = text
        .split('\n')
        .find((l) => l.startsWith('lightrank_router_fallbacks_total{') && l.includes('from="canary"'));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const before = await Promise.all(Array.from({ length: 20 }, send));
    expect(before.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(before.map((r) => r.track))).toEqual(new Set(['stable']));
    expect(before.every((r) => r.upstream.includes('"a"'))).toBe(true);
    // about half of them picked the canary, and each of those is counted
    expect(await fallbacks()).toBeGreaterThan(0);
    expect(await fallbacks()).toBeLessThan(20);

    // once the canary's pod is ready, it takes its share
    await slice([{ ip: '10.77.0.2', ready: true }], port, 'fb-canary');
    await waitFor('the canary answers', async () => (await send()).track === 'canary');
    const after = await Promise.all(Array.from({ length: 20 }, send));
    expect(after.every((r) => r.status === 200)).toBe(true);
    expect(after.filter((r) => r.track === 'canary').every((r) => r.upstream.includes('"b"'))).toBe(true);

    // with neither track ready, a 502 that names the chosen one
    await slice([{ ip: '10.77.0.1', ready: false }], port, 'fb-stable');
    await slice([{ ip: '10.77.0.2', ready: false }], port, 'fb-canary');
    await waitFor('502 with no ready endpoint on either track', async () => (await send()).status === 502);
  });

  it('falls back to DNS, and stays ready, when its ServiceAccount may not list EndpointSlices', async () => {
    await core.createNamespacedServiceAccount({
      namespace: ns.name,
      body: { metadata: { name: 'no-rbac' } },
    });
    const token = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
      name: 'no-rbac',
      namespace: ns.name,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const cluster = kc.getCurrentCluster()!;
    const limited = new KubeConfig();
    limited.loadFromOptions({
      clusters: [{ name: 'c', server: cluster.server, caData: cluster.caData }],
      users: [{ name: 'u', token: token.status!.token }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    const url = await startRouter(limited);
    await waitFor(
      'router ready despite the refused list',
      async () => (await request(`${url}/readyz`)).status === 200,
    );
    // DNS does not know the Service name here: the request fails as a plain connect error
    const r = await request(`${url}/v1/models/demo/rank`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(502);
    expect(r.body).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });
});
