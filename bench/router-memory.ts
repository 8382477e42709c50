// What a router process (`node dist/router/main.js`, build first: `npm run build`) holds in memory:
// resident set (VmRSS, and its anonymous and file-backed parts from /proc/<pid>/status) beside V8's
// own figures (process.memoryUsage(): heap used/total, external, array buffers), idle after start,
// then after a few hundred requests through it. With `--resolver kubernetes` it starts a control
// plane (test/harness) whose EndpointSlice names a local upstream, and the router watches it.
// For comparison, a bare Node process (the floor every Node process pays) is measured the same way.
// --table-dir writes the table as the namespace's shared router reads it: a directory, one file per model.
//   npm run bench:router-memory -- [--resolver dns|kubernetes] [--models 1] [--requests 300] [--concurrency 1]
//                                  [--table-dir]
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeClient } from '../operator/runtime/kube/client.js';
import { kubeconfigCredentials } from '../operator/runtime/kube/kubeconfig.js';
import type { ResourceRef } from '../operator/runtime/kube/types.js';
import { startControlPlane, type ControlPlane } from '../test/harness/control-plane.js';
import {
  freePort,
  get,
  printSamples,
  sample,
  sampleBareNode,
  startMeasured,
  waitReady,
  type Sample,
} from './lib/process-memory.js';

const { values: args } = parseArgs({
  options: {
    resolver: { type: 'string', default: 'dns' },
    models: { type: 'string', default: '1' },
    requests: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '1' },
    'table-dir': { type: 'boolean', default: false },
  },
});
if (args.resolver !== 'dns' && args.resolver !== 'kubernetes')
  throw new Error(`--resolver ${args.resolver}: want dns or kubernetes`);
const models = Number(args.models);
const requests = Number(args.requests);
if (!Number.isInteger(models) || models < 1) throw new Error(`--models ${args.models}: want an integer >= 1`);
if (!Number.isInteger(requests) || requests < 0)
  throw new Error(`--requests ${args.requests}: want an integer >= 0`);
const concurrency = Number(args.concurrency);
if (!Number.isInteger(concurrency) || concurrency < 1)
  throw new Error(`--concurrency ${args.concurrency}: want an integer >= 1`);

const NAMESPACES: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace' };
const SLICES: ResourceRef = {
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  kind: 'EndpointSlice',
};
const NS = 'router-memory';
// the API server refuses loopback addresses in slices: 10.77/16 is mapped to 127/16 by the router
const ADDRESS_MAP = '10.77.0.0/16=127.0.0.0/16';

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'router-memory-'));
  let cp: ControlPlane | undefined;
  const children: ChildProcess[] = [];
  const upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  try {
    const env: NodeJS.ProcessEnv = {};
    let backendHost = `127.0.0.1:${upstreamPort}`;
    if (args.resolver === 'kubernetes') {
      cp = await startControlPlane({ quietBuild: true, gpuNodes: 0, cpuNodes: 0 });
      const creds = kubeconfigCredentials(cp.kubeconfigPath);
      if (!creds) throw new Error('the control plane kubeconfig needs client-node');
      const client = new KubeClient(creds);
      await client.apply(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
      await client.apply(SLICES, {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'backend-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'backend' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: upstreamPort, protocol: 'TCP' }],
        endpoints: [{ addresses: ['10.77.0.1'], conditions: { ready: true } }],
      } as never);
      client.close();
      backendHost = `backend.${NS}.svc:${upstreamPort}`;
      Object.assign(env, {
        LIGHTRANK_ROUTER_RESOLVER: 'kubernetes',
        LIGHTRANK_ROUTER_KUBECONFIG: cp.kubeconfigPath,
        LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP: ADDRESS_MAP,
      });
    }
    const table = {
      version: 1,
      revision: `${NS}/bench@1`,
      models: Object.fromEntries(
        Array.from({ length: models }, (_, i) => [
          `m${i}`,
          {
            defaultSegment: 'standard',
            segments: {
              standard: { backends: [{ track: 'stable', url: `http://${backendHost}`, weight: 100 }] },
            },
          },
        ]),
      ),
    };
    let tablePath = join(dir, 'table.json');
    if (args['table-dir']) {
      tablePath = join(dir, 'tables');
      await mkdir(tablePath);
      for (const [name, model] of Object.entries(table.models))
        await writeFile(
          join(tablePath, `${name}.json`),
          JSON.stringify({ version: 1, revision: `${NS}/${name}`, models: { [name]: model } }),
        );
    } else await writeFile(tablePath, JSON.stringify(table));

    const results: Record<string, Sample> = {};
    results['bare node'] = await sampleBareNode(join(dir, 'bare.json'));

    const port = await freePort();
    const report = join(dir, 'router.json');
    const router = startMeasured(['dist/router/main.js'], {
      ...env,
      MEMORY_REPORT: report,
      LIGHTRANK_ROUTER_TABLE: tablePath,
      LIGHTRANK_HOST: '127.0.0.1',
      LIGHTRANK_PORT: String(port),
      LOG_LEVEL: 'warn',
    });
    children.push(router);
    await waitReady(`http://127.0.0.1:${port}/readyz`);
    await new Promise((r) => setTimeout(r, 2000));
    results['router idle'] = await sample(router, report);
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < requests) {
        const i = sent++;
        const r = await get(`http://127.0.0.1:${port}/v2/models/m${i % models}/infer`);
        if (r.status !== 200) throw new Error(`request ${i} through the router: ${r.status} ${r.body}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await new Promise((r) => setTimeout(r, 1000));
    results[`router after ${requests} requests, ${concurrency} at a time`] = await sample(router, report);

    process.stdout.write(
      `node ${process.version}, resolver ${args.resolver}, ${models}-model table (${JSON.stringify(table).length} bytes)${args['table-dir'] ? `, as a directory of ${models} files` : ''}\n`,
    );
    printSamples(results);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    upstream.close();
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
