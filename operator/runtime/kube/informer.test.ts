// The informer against a scripted API server on loopback (a real HTTP server speaking the list
// and watch protocol): relist after 410 Gone, retries with backoff after failures, and the
// add / update / delete events a relist discovers.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/logger.js';
import { KubeClient } from './client.js';
import { Informer, type InformerEvent } from './informer.js';
import { SERVICES, type KubeObject, type ResourceRef } from './types.js';

type Handler = (url: URL, res: http.ServerResponse) => void;
const servers: http.Server[] = [];
const clients: KubeClient[] = [];

async function apiServer(handler: Handler): Promise<KubeClient> {
  const server = http.createServer((req, res) => handler(new URL(req.url!, 'http://x'), res));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const client = new KubeClient(kc);
  clients.push(client);
  return client;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const svc = (name: string, rv: string): KubeObject => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv },
});
const line = (res: http.ServerResponse, type: string, object: unknown) =>
  res.write(`${JSON.stringify({ type, object })}\n`);

function informer(client: KubeClient, logger = createLogger('test')) {
  const inf = new Informer<KubeObject>(client, {
    ref: SERVICES,
    namespace: 'ns',
    backoff: { baseMs: 20, maxMs: 100 },
    logger,
  });
  const seen: string[] = [];
  inf.on((ev: InformerEvent, obj) => seen.push(`${ev}:${obj.metadata.name}@${obj.metadata.resourceVersion}`));
  return { inf, seen };
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('Informer', () => {
  it('caches objects as its transform leaves them (default: without managedFields), listed or watched', async () => {
    const managedFields = [{ manager: 'kube-controller-manager', fieldsV1: { 'f:status': {} } }];
    const pod = (name: string, rv: string) => ({
      metadata: { name, namespace: 'ns', resourceVersion: rv, labels: { a: '1' }, managedFields },
      spec: { nodeName: 'gpu-0', containers: [{ name: 'server', image: 'x', env: [] }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    const client = await apiServer((url, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (url.searchParams.get('watch') !== 'true')
        return res.end(JSON.stringify({ metadata: { resourceVersion: '10' }, items: [pod('a', '5')] }));
      line(res, 'ADDED', pod('b', '11'));
    });
    const PODS: ResourceRef = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' };
    const opts = { namespace: 'ns', backoff: { baseMs: 20, maxMs: 100 }, logger: createLogger('test') };
    // a transform that keeps metadata and status, and of the spec only the node
    const transform = (o: KubeObject): KubeObject => {
      const { managedFields: _m, ...metadata } = o.metadata;
      return { metadata, spec: { nodeName: (o.spec as { nodeName: string }).nodeName }, status: o.status };
    };
    const pods = new Informer<KubeObject>(client, { ...opts, ref: PODS, transform });
    const services = new Informer<KubeObject>(client, { ...opts, ref: SERVICES });
    for (const inf of [pods, services]) inf.start();
    await until(() => pods.list().length === 2 && services.list().length === 2);
    for (const name of ['a', 'b']) {
      const p = pods.get('ns', name)!;
      expect(p.metadata.managedFields).toBeUndefined();
      expect(p.metadata.labels).toEqual({ a: '1' });
      expect(p.spec).toEqual({ nodeName: 'gpu-0' });
      expect(p.status).toEqual(pod(name, '').status);
      // the default transform drops only the managed fields
      const s = services.get('ns', name)!;
      expect(s.metadata.managedFields).toBeUndefined();
      expect(s.spec).toEqual(pod(name, '').spec);
    }
    await Promise.all([pods.stop(), services.stop()]);
  });

  it('relists after a 410 Gone watch event and reports what the relist found', async () => {
    const requests: string[] = [];
    let lists = 0;
    const client = await apiServer((url, res) => {
      const watch = url.searchParams.get('watch') === 'true';
      requests.push(`${watch ? 'watch' : 'list'}@${url.searchParams.get('resourceVersion') ?? ''}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      if (!watch) {
        lists++;
        const items = lists === 1 ? [svc('a', '5'), svc('b', '6')] : [svc('b', '21'), svc('c', '22')];
        return res.end(JSON.stringify({ metadata: { resourceVersion: lists === 1 ? '10' : '30' }, items }));
      }
      if (url.searchParams.get('resourceVersion') === '10') {
        line(res, 'MODIFIED', svc('b', '11'));
        line(res, 'ERROR', {
          kind: 'Status',
          code: 410,
          reason: 'Expired',
          message: 'too old resource version',
        });
        return; // the server would close; the informer must not wait for it
      }
      // the watch after the relist stays open
    });
    const { inf, seen } = informer(client);
    inf.start();
    await inf.waitForSync();
    await until(() => lists === 2 && requests.includes('watch@30'));
    expect(requests.slice(0, 4)).toEqual(['list@', 'watch@10', 'list@', 'watch@30']);
    expect(seen).toEqual(['add:a@5', 'add:b@6', 'update:b@11', 'update:b@21', 'add:c@22', 'delete:a@5']);
    expect(
      inf
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['b', 'c']);
    expect(inf.get('ns', 'c')?.metadata.resourceVersion).toBe('22');
    await inf.stop();
  });

  it('retries a failing list with growing delays, then syncs, and stops while waiting', async () => {
    const at: number[] = [];
    const client = await apiServer((url, res) => {
      if (url.searchParams.get('watch') === 'true') return res.writeHead(200).flushHeaders();
      at.push(Date.now());
      if (at.length <= 3)
        return res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ kind: 'Status', reason: 'InternalError', message: 'etcd is sad' }));
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ metadata: { resourceVersion: '1' }, items: [svc('a', '1')] }));
    });
    // The delays the informer chose, from its warnings; the clock can only show them as lower
    // bounds (a loaded machine stretches any gap, so gaps are not compared with each other).
    const retries: number[] = [];
    const logger = createLogger('test', { level: 'warn' });
    logger.warn = ((obj: { retryInMs?: number }) => {
      if (typeof obj.retryInMs === 'number') retries.push(obj.retryInMs);
    }) as typeof logger.warn;
    const { inf, seen } = informer(client, logger);
    inf.start();
    await inf.waitForSync();
    expect(at).toHaveLength(4);
    expect(retries).toEqual([20, 40, 80]); // doubling from baseMs, under maxMs
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(retries[i]! - 2));
    expect(seen).toEqual(['add:a@1']);
    await inf.stop(); // ends the open watch
  });

  it('resumes a watch the server ended from the last resourceVersion, without a relist', async () => {
    const requests: string[] = [];
    const client = await apiServer((url, res) => {
      const watch = url.searchParams.get('watch') === 'true';
      requests.push(`${watch ? 'watch' : 'list'}@${url.searchParams.get('resourceVersion') ?? ''}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      if (!watch) return res.end(JSON.stringify({ metadata: { resourceVersion: '1' }, items: [] }));
      if (url.searchParams.get('resourceVersion') === '1') {
        line(res, 'ADDED', svc('a', '2'));
        line(res, 'BOOKMARK', { metadata: { resourceVersion: '3' } });
        return void setTimeout(() => res.end(), 1100); // a watch timeout
      }
    });
    const { inf, seen } = informer(client);
    inf.start();
    await until(() => requests.includes('watch@3'), 5000);
    expect(requests).toEqual(['list@', 'watch@1', 'watch@3']);
    expect(seen).toEqual(['add:a@2']);
    await inf.stop();
  });
});
