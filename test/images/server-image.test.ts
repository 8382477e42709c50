// The scoring-server image (Dockerfile.server --target server-cpu, built by
// scripts/build-images.sh) run as a container the way a restricted pod runs it: read-only root,
// only /tmp writable, every capability dropped, no privilege escalation, its own non-root user.
// With no data dir it serves the model kit's demo model; an OIP infer through the published port
// must match the model kit's reference math computed here, outside the container.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { StartedTestContainer } from 'testcontainers';
import { Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFeatures } from '../../modelkit/catalogue.js';
import { modelConfig } from '../../modelkit/config.js';
import { runTowerReference } from '../../modelkit/reference.js';
import { generateTowerWeights } from '../../modelkit/weights.js';
import { containerSkipReason, hardened, useContainers, type ContainerEnv } from './containers.js';

const run = promisify(execFile);
const skip = containerSkipReason();
if (skip) console.warn(`[server image] skipped: ${skip}`);

describe.skipIf(skip !== undefined)('server image (server-cpu) as a restricted container', () => {
  const containers = useContainers();
  let env: ContainerEnv;
  let server: StartedTestContainer;
  let base: string;

  beforeAll(async () => {
    if (!containers.env) return; // skipped: podman could not be installed
    env = containers.env;
    server = await hardened(env.serverImage)
      .withLoopbackPorts(8080, 8081)
      .withWaitStrategy(Wait.forHttp('/v2/health/ready', 8080).forStatusCode(200))
      .withStartupTimeout(120_000)
      .start();
    base = `http://${server.getHost()}:${server.getMappedPort(8080)}`;
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('is ready and describes the demo model, on the CPU provider', async () => {
    const live = await fetch(`${base}/v2/health/live`);
    expect(live.status).toBe(200);
    const res = await fetch(`${base}/v2/models/demo`);
    expect(res.status).toBe(200);
    const meta = (await res.json()) as {
      name: string;
      platform: string;
      parameters: Record<string, unknown>;
    };
    expect(meta).toMatchObject({ name: 'demo', platform: 'onnxruntime_onnx' });
    expect(meta.parameters.execution_provider).toBe('cpu');
  });

  it('answers an OIP infer like the model kit reference math', async () => {
    const cfg = modelConfig({ seed: 42 }); // the demo model's config
    const rows = 2;
    const { dense, categorical } = generateFeatures(cfg.query, rows, 7);
    const res = await fetch(`${base}/v2/models/demo/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'image-test',
        inputs: [
          { name: 'dense', shape: [rows, cfg.query.numDense], datatype: 'FP32', data: Array.from(dense) },
          {
            name: 'categorical',
            shape: [rows, cfg.query.numCategorical],
            datatype: 'INT64',
            data: Array.from(categorical, Number),
          },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      id: string;
      outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
    };
    expect(body.id).toBe('image-test');
    const out = body.outputs.find((o) => o.name === 'query');
    expect(out).toMatchObject({ datatype: 'FP32', shape: [rows, cfg.tasks.length, cfg.dim] });
    const want = runTowerReference(generateTowerWeights(cfg, 'query'), dense, categorical);
    expect(out!.data).toHaveLength(want.length);
    out!.data.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-5));
  });

  it('refuses a bad request with a 400 naming the field, and stays ready', async () => {
    const res = await fetch(`${base}/v2/models/demo/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [] }),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/inputs/);
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
  });

  it("runs as the image's numeric non-root user 65532", async () => {
    const { stdout } = await run(
      'podman',
      ['image', 'inspect', '--format', '{{.Config.User}}', env.serverImage],
      { env: env.podmanEnv },
    );
    expect(stdout.trim()).toBe('65532:65532');
    const id = await server.exec(['id', '-u']);
    expect(id.exitCode).toBe(0);
    expect(id.stdout.trim()).toBe('65532');
  });

  it('has a read-only root filesystem; only /tmp is writable', async () => {
    const app = await server.exec(['sh', '-c', 'touch /app/x']);
    expect(app.exitCode).not.toBe(0);
    expect(app.output).toMatch(/Read-only file system/);
    const data = await server.exec(['sh', '-c', 'touch /var/lib/lightrank/x']);
    expect(data.output).toMatch(/Read-only file system/);
    const tmp = await server.exec(['sh', '-c', 'touch /tmp/x && echo ok']);
    expect(tmp.stdout.trim()).toBe('ok');
  });

  it('holds production dependencies only, and onnxruntime for linux/x64 only', async () => {
    const mods = await server.exec(['ls', '/app/node_modules']);
    const names = mods.stdout.split('\n').filter(Boolean);
    expect(names).toContain('onnxruntime-node');
    expect(names).toContain('fastify');
    for (const dev of ['vitest', 'typescript', 'eslint', 'prettier', 'tsx', 'testcontainers'])
      expect(names).not.toContain(dev);
    const platforms = await server.exec([
      'sh',
      '-c',
      'cd /app/node_modules/onnxruntime-node/bin/napi-v6 && find . -mindepth 2 -maxdepth 2 -type d',
    ]);
    expect(platforms.stdout.trim().split('\n')).toEqual(['./linux/x64']);
  });
});
