// The router's footprint: its process never loads @kubernetes/client-node, whose generated API would
// cost it ~75 MiB of RSS (bench/results-operator.md), not even with the Kubernetes resolver on: that
// runs on the operator's own runtime. A module hook refuses client-node in the router's process; the
// router must still start, watch (here: fail to reach an API server that is not there) and serve.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NO_CLIENT_NODE, REFUSED, importClientNodeUnderHook } from '../harness/no-client-node.js';
import { request, startUpstream, table, type Upstream } from './helpers.js';

let dir: string;
let upstream: Upstream;
let child: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lightrank-router-footprint-'));
  upstream = await startUpstream('stable');
});

afterAll(async () => {
  child?.kill('SIGKILL');
  await upstream.close();
  await rm(dir, { recursive: true, force: true });
});

it('the hook refuses client-node (so the next test can fail)', () => {
  const r = importClientNodeUnderHook();
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(REFUSED);
});

it('runs with the Kubernetes resolver on without loading client-node', async () => {
  const tablePath = join(dir, 'table.json');
  // a Service name beside the plain upstream (weight 0), so the resolver starts a watch
  await writeFile(
    tablePath,
    JSON.stringify(
      table({ standard: { stable: upstream.url, canary: 'http://backend.ns.svc:8080', canaryWeight: 0 } }),
    ),
  );
  // a kubeconfig whose API server does not answer: the watch keeps failing
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 'none' } }],
    }),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: 'info',
    LIGHTRANK_ROUTER_TABLE: tablePath,
    LIGHTRANK_ROUTER_RESOLVER: 'kubernetes',
    LIGHTRANK_ROUTER_KUBECONFIG: kubeconfig,
  };
  delete env.VITEST;
  let output = '';
  const proc = spawn(
    process.execPath,
    ['--import', NO_CLIENT_NODE, '--import', 'tsx', 'router/main.ts', '--port', '0', '--host', '127.0.0.1'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child = proc;
  proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const listening = await expect
    .poll(() => output.split('\n').find((l) => l.includes('"msg":"router listening"')), {
      timeout: 20_000,
      interval: 50,
    })
    .toBeTruthy()
    .then(() => output.split('\n').find((l) => l.includes('"msg":"router listening"'))!)
    .catch((err: Error) => {
      throw new Error(`${err.message}\nrouter output:\n${output}`);
    });
  const { port } = JSON.parse(listening) as { port: number };
  const r = await request(`http://127.0.0.1:${port}/v2/models/demo/infer`);
  expect(r.status).toBe(200);
  expect(JSON.parse(r.body)).toMatchObject({ upstream: 'stable' });
  // the watch ran, and failed as it must here
  const ready = await request(`http://127.0.0.1:${port}/readyz`);
  expect(ready.status).toBe(503);
  expect(ready.body).toContain('EndpointSlices of Service ns/backend not listed yet');
  expect(ready.body).toContain('ECONNREFUSED');
  expect(output).not.toContain(REFUSED);
});
