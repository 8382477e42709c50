// What a router process (`node dist/router/main.js`, build first: `npm run build`) holds in memory:
// resident set (VmRSS, and its anonymous and file-backed parts from /proc/<pid>/status) beside V8's
// own figures (process.memoryUsage(): heap used/total, external, array buffers), idle after start,
// then after a few hundred requests through it. With `--resolver kubernetes` it starts a control
// plane (test/harness) whose EndpointSlice names a local upstream, and the router watches it.
// For comparison, a bare Node process (the floor every Node process pays) is measured the same way.
//   npm run bench:router-memory -- [--resolver dns|kubernetes] [--models 1] [--requests 300] [--concurrency 1]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeClient } from '../operator/runtime/kube/client.js';
import { kubeconfigCredentials } from '../operator/runtime/kube/kubeconfig.js';
import type { ResourceRef } from '../operator/runtime/kube/types.js';
import { startControlPlane, type ControlPlane } from '../test/harness/control-plane.js';

const { values: args } = parseArgs({
  options: {
    resolver: { type: 'string', default: 'dns' },
    models: { type: 'string', default: '1' },
    requests: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '1' },
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

// dumps process.memoryUsage() to $MEMORY_REPORT on SIGUSR2 (preloaded into the measured process)
const PRELOAD =
  "data:text/javascript,import{writeFileSync}from'node:fs';process.on('SIGUSR2',()=>writeFileSync(process.env.MEMORY_REPORT,JSON.stringify(process.memoryUsage())))";

interface Sample {
  rssMiB: number;
  rssAnonMiB: number;
  rssFileMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
}

const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

async function sample(child: ChildProcess, reportPath: string): Promise<Sample> {
  await rm(reportPath, { force: true });
  child.kill('SIGUSR2');
  let usage: NodeJS.MemoryUsage | undefined;
  for (let i = 0; i < 100 && !usage; i++) {
    await new Promise((r) => setTimeout(r, 50));
    usage = await readFile(reportPath, 'utf8').then(
      (t) => JSON.parse(t) as NodeJS.MemoryUsage,
      () => undefined,
    );
  }
  if (!usage) throw new Error(`pid ${child.pid} wrote no memory report to ${reportPath}`);
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${child.pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return {
    rssMiB: mib(kb('VmRSS')),
    rssAnonMiB: mib(kb('RssAnon')),
    rssFileMiB: mib(kb('RssFile') + kb('RssShmem')),
    heapUsedMiB: mib(usage.heapUsed),
    heapTotalMiB: mib(usage.heapTotal),
    externalMiB: mib(usage.external),
    arrayBuffersMiB: mib(usage.arrayBuffers),
  };
}

function startProcess(argv: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', PRELOAD, ...argv], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  child.on('exit', (code, signal) => {
    if (code !== null && code !== 0) process.stderr.write(`process exited ${code}: ${err}\n`);
    else if (signal && signal !== 'SIGTERM') process.stderr.write(`process killed by ${signal}: ${err}\n`);
  });
  return child;
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const r = await get(url).catch((e: Error) => ({ status: 0, body: e.message }));
    if (r.status === 200) return;
    last = `${r.status} ${r.body}`;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms: ${last}`);
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

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
    const tablePath = join(dir, 'table.json');
    await writeFile(tablePath, JSON.stringify(table));

    const results: Record<string, Sample> = {};
    const bareReport = join(dir, 'bare.json');
    const bare = startProcess(['-e', 'setInterval(() => {}, 1000)'], { MEMORY_REPORT: bareReport });
    children.push(bare);
    await new Promise((r) => setTimeout(r, 1000));
    results['bare node'] = await sample(bare, bareReport);
    bare.kill('SIGTERM');

    const port = await freePort();
    const report = join(dir, 'router.json');
    const router = startProcess(['dist/router/main.js'], {
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
      `node ${process.version}, resolver ${args.resolver}, ${models}-model table (${JSON.stringify(table).length} bytes)\n`,
    );
    const cols: (keyof Sample)[] = [
      'rssMiB',
      'rssAnonMiB',
      'rssFileMiB',
      'heapUsedMiB',
      'heapTotalMiB',
      'externalMiB',
      'arrayBuffersMiB',
    ];
    process.stdout.write(`| process | ${cols.join(' | ')} |\n| --- |${cols.map(() => ' ---: |').join('')}\n`);
    for (const [name, s] of Object.entries(results))
      process.stdout.write(`| ${name} | ${cols.map((c) => s[c]).join(' | ')} |\n`);
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
