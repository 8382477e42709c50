// The router as its Deployment runs it: `router/main.ts` in its own process, configured by env and flags,
// reloading on SIGHUP (polling is set far apart here so only the signal can explain a reload), draining on
// SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { request, startUpstream, table, type Upstream } from './helpers.js';

let dir: string;
let stable: Upstream;
let canary: Upstream;
let child: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lightrank-router-main-'));
  [stable, canary] = await Promise.all([startUpstream('stable'), startUpstream('canary')]);
});

afterAll(async () => {
  child?.kill('SIGKILL');
  await Promise.all([stable.close(), canary.close()]);
  await rm(dir, { recursive: true, force: true });
});

function logged(msg: string): boolean {
  return output.split('\n').some((l) => l.includes(`"msg":"${msg}`));
}

it('serves from its table, reloads it on SIGHUP, refuses a bad one, and exits cleanly on SIGTERM', async () => {
  const path = join(dir, 'table.json');
  await writeFile(path, JSON.stringify(table({ standard: { stable: stable.url } })));
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', LIGHTRANK_ROUTER_TABLE: path };
  delete env.VITEST;
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'router/main.ts',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--reload-interval-ms',
      '600000',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child = proc;
  proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));

  await expect.poll(() => logged('router listening'), { timeout: 20_000, interval: 50 }).toBe(true);
  const listening = output.split('\n').find((l) => l.includes('"msg":"router listening"'))!;
  const { port } = JSON.parse(listening) as { port: number };
  const base = `http://127.0.0.1:${port}`;
  const upstream = async (): Promise<string> =>
    (JSON.parse((await request(`${base}/v2/models/demo/infer`)).body) as { upstream: string }).upstream;
  expect(await upstream()).toBe('stable');

  await writeFile(
    path,
    JSON.stringify(table({ standard: { stable: stable.url, canary: canary.url, canaryWeight: 100 } })),
  );
  proc.kill('SIGHUP');
  await expect.poll(upstream, { timeout: 5_000, interval: 20 }).toBe('canary');

  await writeFile(path, '{"version": 1, "models": {"demo": {"defaultSegment": "standard", "segments": {}}}}');
  proc.kill('SIGHUP');
  await expect.poll(() => logged('refused router table'), { timeout: 5_000, interval: 20 }).toBe(true);
  expect(await upstream()).toBe('canary');
  expect((await request(`${base}/readyz`)).status).toBe(200);

  proc.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(logged('draining and stopping')).toBe(true);
});
