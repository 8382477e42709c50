// Hot reload of a real server process from the shared-volume layout: a new snapshot and a new
// model version are swapped in under continuous concurrent load with zero failed requests (and
// the load batches); every kind of corrupt snapshot, and a model/snapshot pair whose
// fingerprints differ, is refused and reported (metric, log) while the previous version keeps
// serving; SIGTERM drains and exits 0.
import { cp, mkdtemp, readFile, rm, truncate, unlink, writeFile, appendFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildItemSnapshot, buildTowers } from '../../modelkit/bundle.js';
import { modelConfig } from '../../modelkit/config.js';
import { isSnapshotError, validateSnapshot } from '../../snapshot/index.js';
import { publishModel, publishSnapshot } from '../../server/volume.js';
import { stageDemo, startServer, waitFor, type ServerProcess, type Staged } from './harness.js';

let root: string;
let staged: Staged;
let server: ServerProcess;
let candidates: string[];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-reload-'));
  staged = await stageDemo(root, { items: 1000 });
  candidates = (
    await readFile(join(staged.bundle.snapshotDir, 'ids.u64')).then(
      (b) => new BigUint64Array(b.buffer, b.byteOffset, 1000),
    )
  )
    .slice(0, 500)
    .reduce<string[]>((a, id) => (a.push(id.toString()), a), []);
  server = await startServer([
    '--data-dir',
    staged.dataDir,
    '--reload-poll-ms',
    '50',
    '--max-batch-size',
    '16',
  ]);
  await waitFor(async () => (await server.get('/v2/health/ready')).status === 200, 30_000, 'ready');
});

afterAll(async () => {
  if (server && server.proc.exitCode === null) await server.stop();
  await rm(root, { recursive: true, force: true });
});

const rankBody = () => ({
  query: { dense: Array(16).fill(0.25), categorical: [1, 2, 3, 4] },
  candidates,
});

async function serving(): Promise<{ modelVersion: string; snapshotVersion: string }> {
  const res = await server.post('/v1/models/demo/rank', rankBody());
  expect(res.status).toBe(200);
  return res.body;
}

interface Outcome {
  status: number;
  modelVersion?: string;
  snapshotVersion?: string;
}

/** `clients` closed loops of rank requests until stop() (bounded: 15 s, 5,000 requests per client). */
function load(clients: number) {
  let stopped = false;
  const perClient: Outcome[][] = Array.from({ length: clients }, () => []);
  const deadline = Date.now() + 15_000;
  const loops = perClient.map(async (out) => {
    while (!stopped && Date.now() < deadline && out.length < 5000) {
      try {
        const res = await server.post('/v1/models/demo/rank', rankBody());
        out.push({
          status: res.status,
          modelVersion: res.body?.modelVersion,
          snapshotVersion: res.body?.snapshotVersion,
        });
      } catch {
        out.push({ status: 0 });
      }
    }
  });
  return {
    perClient,
    seen: (pred: (o: Outcome) => boolean) => perClient.some((c) => c.some(pred)),
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return perClient;
    },
  };
}

const metric = async (pattern: RegExp): Promise<number> => {
  const m = (await server.get('/metrics')).text.match(pattern);
  return m ? Number(m[1]) : 0;
};

describe('hot swap', () => {
  it('swaps snapshot and model under concurrent load with zero failed requests', async () => {
    expect(await serving()).toMatchObject({ modelVersion: 'm1', snapshotVersion: 'v1' });
    const prefix = join(root, 'build', 'snapshots');
    await buildItemSnapshot({
      itemModel: staged.bundle.itemModel,
      prefix,
      version: 'v2',
      items: 800,
      seed: 42,
      latest: false,
    });
    const traffic = load(6);
    await new Promise((r) => setTimeout(r, 300));
    await publishSnapshot(staged.dataDir, 'v2', join(prefix, 'v2'));
    await waitFor(async () => traffic.seen((o) => o.snapshotVersion === 'v2'), 20_000, 'snapshot v2 serving');
    await publishModel(staged.dataDir, 'm2', {
      onnxPath: staged.bundle.queryModel,
      modelJson: {
        version: 'm2',
        sha256: staged.bundle.querySha256,
        towerFingerprint: staged.bundle.fingerprint,
      },
    });
    await waitFor(async () => traffic.seen((o) => o.modelVersion === 'm2'), 20_000, 'model m2 serving');
    await new Promise((r) => setTimeout(r, 200));
    const perClient = await traffic.stop();
    const all = perClient.flat();
    expect(all.length).toBeGreaterThan(30);
    expect(all.filter((o) => o.status !== 200)).toEqual([]);
    expect(all.some((o) => o.snapshotVersion === 'v1')).toBe(true);
    // Atomic switch: within one client (sequential requests) versions never go back.
    for (const c of perClient) {
      const firstV2 = c.findIndex((o) => o.snapshotVersion === 'v2');
      if (firstV2 >= 0) expect(c.slice(firstV2).every((o) => o.snapshotVersion === 'v2')).toBe(true);
      const firstM2 = c.findIndex((o) => o.modelVersion === 'm2');
      if (firstM2 >= 0) expect(c.slice(firstM2).every((o) => o.modelVersion === 'm2')).toBe(true);
    }
    expect(await serving()).toMatchObject({ modelVersion: 'm2', snapshotVersion: 'v2' });
    // Concurrent requests shared query-tower runs (dynamic batching).
    const batches = await metric(/lightrank_server_batch_size_count\{[^}]*\} (\d+)/);
    const single = await metric(/lightrank_server_batch_size_bucket\{[^}]*le="1"[^}]*\} (\d+)/);
    expect(batches).toBeGreaterThan(0);
    expect(single).toBeLessThan(batches);
    expect(
      await metric(/lightrank_server_reloads_total\{[^}]*kind="snapshot",outcome="loaded"[^}]*\} (\d+)/),
    ).toBeGreaterThanOrEqual(2);
    // Each switch logs its load stages once, and the last one is exported per stage.
    const switches = server.logs.filter((l) => l.msg === 'switched to new version');
    expect(switches.map((l) => `${l.model}/${l.snapshot}`)).toEqual(['m1/v2', 'm2/v2']);
    const stages = switches[0]!.stages as Record<string, number>;
    expect(Object.keys(stages).sort()).toEqual(
      ['model', 'scoring_graph', 'checksum', 'read_ids', 'id_index', 'sessions', 'switch'].sort(),
    );
    for (const seconds of Object.values(stages)) expect(seconds).toBeGreaterThanOrEqual(0);
    expect(stages.sessions).toBeGreaterThan(0);
    const exported = await metric(
      /lightrank_server_reload_stage_seconds\{[^}]*stage="sessions"[^}]*\} ([\d.e-]+)/,
    );
    expect(exported).toBeGreaterThan(0);
  });
});

describe('refusals', () => {
  type Mutation = [cause: string, mutate: (dir: string) => Promise<void>];
  const manifestEdit = (edit: (m: Record<string, unknown>) => void) => async (dir: string) => {
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    edit(m);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
  };
  const mutations: Mutation[] = [
    [
      'checksum',
      async (dir) => {
        const f = join(dir, 'embeddings.bin');
        const b = await readFile(f);
        b[100] = b[100]! ^ 0xff;
        await writeFile(f, b);
      },
    ],
    ['truncated', (dir) => truncate(join(dir, 'embeddings.bin'), 1000)],
    ['size', (dir) => appendFile(join(dir, 'ids.u64'), Buffer.alloc(8))],
    ['missing_file', (dir) => unlink(join(dir, 'ids.u64'))],
    ['manifest', (dir) => writeFile(join(dir, 'manifest.json'), '{"formatVersion": 1,')],
    ['format_version', manifestEdit((m) => (m.formatVersion = 99))],
    ['fingerprint', manifestEdit((m) => (m.towerFingerprint = 'f'.repeat(32)))],
    ['dtype', manifestEdit((m) => (m.dtype = 'float16'))],
    ['shape', manifestEdit((m) => (m.dim = 32))],
    [
      'duplicate_ids',
      async (dir) => {
        const f = join(dir, 'ids.u64');
        const b = await readFile(f);
        b.copy(b, 8, 0, 8); // row 1 gets row 0's id
        await writeFile(f, b);
        await manifestEdit((m) => {
          (m.files as Record<string, { sha256: string }>)['ids.u64']!.sha256 = createHash('sha256')
            .update(b)
            .digest('hex');
        })(dir);
      },
    ],
  ];

  it.each(mutations)(
    'refuses a snapshot with cause %s; the previous one keeps serving',
    async (cause, mutate) => {
      const before = await serving();
      const dir = join(root, 'corrupt', cause);
      await cp(join(root, 'build', 'snapshots', 'v2'), dir, { recursive: true });
      await mutate(dir);
      // The snapshot module's own validator agrees on the cause (computed apart from the server).
      const independent = await validateSnapshot(dir, {
        expectedFingerprint: staged.bundle.fingerprint,
      }).then(
        () => 'valid',
        (e: unknown) => (isSnapshotError(e) ? e.cause : String(e)),
      );
      expect(independent).toBe(cause);
      await publishSnapshot(staged.dataDir, `bad-${cause}`, dir);
      const refused = new RegExp(
        `lightrank_server_reloads_total\\{[^}]*kind="snapshot",outcome="refused",reason="${cause}"[^}]*\\} (\\d+)`,
      );
      await waitFor(async () => (await metric(refused)) >= 1, 20_000, `refusal ${cause}`);
      expect(
        server.logs.some(
          (l) => l.level === 50 && l.reason === cause && String(l.msg).includes('keeps serving'),
        ),
      ).toBe(true);
      expect(await serving()).toEqual(expect.objectContaining({ snapshotVersion: before.snapshotVersion }));
      expect((await server.get('/v2/health/ready')).status).toBe(200);
    },
  );

  it('refuses a model whose fingerprint differs from the snapshot', async () => {
    const other = await buildTowers({ dir: join(root, 'other'), config: modelConfig({ seed: 7 }) });
    // A good snapshot first (the last refused one stays refused), so only the model is at fault.
    const loaded = /lightrank_server_reloads_total\{[^}]*kind="snapshot",outcome="loaded"[^}]*\} (\d+)/;
    const loadedBefore = await metric(loaded);
    await publishSnapshot(staged.dataDir, 'v2-again', join(root, 'build', 'snapshots', 'v2'));
    await waitFor(async () => (await metric(loaded)) > loadedBefore, 20_000, 'good snapshot back');
    await publishModel(staged.dataDir, 'm-other', {
      onnxPath: other.queryModel,
      modelJson: { version: 'm-other', sha256: other.querySha256, towerFingerprint: other.fingerprint },
    });
    const refused =
      /lightrank_server_reloads_total\{[^}]*outcome="refused",reason="fingerprint"[^}]*\} (\d+)/;
    const was = await metric(refused);
    await waitFor(async () => (await metric(refused)) > was, 20_000, 'fingerprint refusal');
    expect(await serving()).toMatchObject({ modelVersion: 'm2', snapshotVersion: 'v2' });
    expect(
      server.logs.some((l) => l.level === 50 && l.reason === 'fingerprint' && l.model === 'm-other'),
    ).toBe(true);
  });
});

describe('shutdown', () => {
  it('drains in-flight requests on SIGTERM and exits 0', async () => {
    const inflight = Array.from({ length: 4 }, () => server.post('/v1/models/demo/rank', rankBody()));
    await new Promise((r) => setTimeout(r, 20));
    const code = await server.stop();
    const results = await Promise.allSettled(inflight);
    expect(code).toBe(0);
    for (const r of results) if (r.status === 'fulfilled') expect(r.value.status).toBe(200);
    expect(server.logs.some((l) => l.msg === 'stopped')).toBe(true);
  });
});
