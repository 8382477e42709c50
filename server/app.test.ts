// The app driven in-process (Fastify inject, no socket): not ready (503) until the reloader
// has loaded a model and snapshot from the data dir, then serving; an empty data dir keeps it
// not ready. Uses the model kit's real demo model (a small catalogue).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { openSnapshot } from '../snapshot/index.js';
import { parseConfig } from './config.js';
import { prepareDemoDataDir } from './demo.js';
import { createServer, type ScoringServer } from './server.js';

let root: string;
let dataDir: string;
let server: ScoringServer | undefined;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-app-'));
  ({ dataDir } = await prepareDemoDataDir({ items: 500, dir: root }));
});

afterAll(async () => {
  await server?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('app in-process', () => {
  it('is not ready (503) before a version is loaded, then serves the demo model', async () => {
    const config = parseConfig(['--data-dir', dataDir, '--model-name', 'demo'], {});
    server = createServer(config, createLogger('server-test', { level: 'silent' }));
    const { app, reloader } = server;
    expect((await app.inject({ method: 'GET', url: '/v2/health/live' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode).toBe(503);
    // Schema errors come first; a well-formed request gets 503 until the model is loaded.
    const early = await app.inject({
      method: 'POST',
      url: '/v1/models/demo/rank',
      payload: { candidates: ['1'] },
    });
    expect(early.statusCode).toBe(400);
    const snapshot = await openSnapshot(join(dataDir, 'snapshot', 'current'), { loadEmbeddings: false });
    const body = {
      query: { dense: Array(16).fill(0.1), categorical: [1, 2, 3, 4] },
      candidates: [snapshot.ids[3]!.toString()],
    };
    const notReady = await app.inject({ method: 'POST', url: '/v1/models/demo/rank', payload: body });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toMatchObject({ code: 'MODEL_NOT_READY' });

    await reloader.check();
    expect((await app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode).toBe(200);
    const ok = await app.inject({ method: 'POST', url: '/v1/models/demo/rank', payload: body });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({
      model: 'demo',
      snapshotVersion: snapshot.manifest.snapshotVersion,
      unknownIds: [],
    });
    expect(ok.json().scores.ctr[0]).toBeGreaterThan(0);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/lightrank_server_model_version_info\{[^}]*version="demo-42"[^}]*\} 1/);
    expect(metrics.body).toMatch(/lightrank_server_snapshot_age_seconds\{[^}]*\} \d/);
  });

  it('compresses responses only when asked, and never with --response-compression off', async () => {
    const gz = { 'accept-encoding': 'gzip' };
    const on = await server!.app.inject({ method: 'GET', url: '/v2', headers: gz });
    expect(on.headers['content-encoding']).toBe('gzip');
    const off = createServer(
      parseConfig(['--data-dir', join(root, 'nothing'), '--response-compression', 'off'], {}),
      createLogger('server-test', { level: 'silent' }),
    );
    const plain = await off.app.inject({ method: 'GET', url: '/v2', headers: gz });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.json()).toMatchObject({ name: 'lightrank' });
    await off.stop();
  });

  it('stays not ready on a data dir without current pointers', async () => {
    const empty = createServer(
      parseConfig(['--data-dir', join(root, 'nothing')], {}),
      createLogger('server-test', { level: 'silent' }),
    );
    await empty.reloader.check();
    expect((await empty.app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode).toBe(503);
    expect((await empty.app.inject({ method: 'GET', url: '/v2/models/demo/ready' })).statusCode).toBe(503);
    await empty.stop();
  });
});
