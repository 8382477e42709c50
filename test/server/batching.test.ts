// Dynamic batching in a real server process: with a long queue delay, concurrent requests share
// one query-tower run (up to the max batch size); batched answers equal the answers each request
// gets alone; malformed requests sent in the same window are refused without touching the batch.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFeatures } from '../../modelkit/catalogue.js';
import { openSnapshot, type Snapshot } from '../../snapshot/index.js';
import { stageDemo, startServer, waitFor, type ServerProcess } from './harness.js';

let root: string;
let server: ServerProcess;
let snapshot: Snapshot;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-batching-'));
  const staged = await stageDemo(root, { items: 1000 });
  snapshot = await openSnapshot(staged.bundle.snapshotDir, { loadEmbeddings: false });
  server = await startServer([
    '--data-dir',
    staged.dataDir,
    '--max-batch-size',
    '4',
    '--max-queue-delay-us',
    '300000',
  ]);
  await waitFor(async () => (await server.get('/v2/health/ready')).status === 200, 30_000, 'ready');
});

afterAll(async () => {
  await server?.stop();
  await rm(root, { recursive: true, force: true });
});

async function batchStats(): Promise<{ count: number; sum: number }> {
  const text = (await server.get('/metrics')).text;
  const num = (re: RegExp) => Number(text.match(re)?.[1] ?? 0);
  return {
    count: num(/lightrank_server_batch_size_count\{[^}]*\} (\d+)/),
    sum: num(/lightrank_server_batch_size_sum\{[^}]*\} (\d+)/),
  };
}

describe('dynamic batching', () => {
  it('batches concurrent requests, answers like unbatched, and keeps bad requests out', async () => {
    const { dense, categorical } = generateFeatures({ numDense: 16, numCategorical: 4 }, 8, 3);
    const bodies = Array.from({ length: 8 }, (_, b) => ({
      query: {
        dense: Array.from(dense.subarray(b * 16, b * 16 + 16)),
        categorical: Array.from(categorical.subarray(b * 4, b * 4 + 4), Number),
      },
      candidates: Array.from({ length: 50 + b * 10 }, (_, i) =>
        snapshot.ids[(i * 17 + b) % snapshot.rows]!.toString(),
      ),
    }));
    const bad = { query: { dense: [1, 2], categorical: [1, 2, 3, 4] }, candidates: ['1'] };

    // Alone: a lone request waits for the queue delay, then runs as a batch of one.
    const alone = [];
    for (const body of bodies.slice(0, 2)) {
      const t0 = performance.now();
      const res = await server.post('/v1/models/demo/rank', body);
      expect(res.status).toBe(200);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
      alone.push(res.body);
    }
    const before = await batchStats();
    expect(before).toEqual({ count: 2, sum: 2 });

    // Together: 8 good requests (max batch 4) and 4 bad ones in the same window.
    const results = await Promise.all([
      ...bodies.map((b) => server.post('/v1/models/demo/rank', b)),
      ...Array.from({ length: 4 }, () => server.post('/v1/models/demo/rank', bad)),
    ]);
    results.slice(0, 8).forEach((r) => expect(r.status).toBe(200));
    results.slice(8).forEach((r) => expect(r.status).toBe(400));
    const after = await batchStats();
    expect(after.sum - before.sum).toBe(8);
    expect(after.count - before.count).toBeLessThanOrEqual(4); // batches of up to 4, not 8 singles
    expect(after.count - before.count).toBeGreaterThanOrEqual(2);
    // Batched answers equal the unbatched ones (same query tower, padded scoring dropped).
    alone.forEach((solo, i) => {
      for (const task of Object.keys(solo.scores)) {
        const got = results[i]!.body.scores[task] as number[];
        expect(got).toHaveLength(solo.scores[task].length);
        got.forEach((s, j) => expect(Math.abs(s - solo.scores[task][j])).toBeLessThanOrEqual(1e-6));
      }
    });
  });
});
