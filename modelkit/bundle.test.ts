import * as ort from 'onnxruntime-node';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float16ToFloat32 } from '../snapshot/float16.js';
import { openSnapshot } from '../snapshot/reader.js';
import { validateSnapshot } from '../snapshot/validate.js';
import { buildDemoBundle, buildItemSnapshot, type DemoBundle } from './bundle.js';
import { generateFeatures, generateItemIds } from './catalogue.js';
import { readTowerMetadata } from './metadata.js';
import { runTowerReference, scoreReference } from './reference.js';
import { writeScoringModels } from './scoring-files.js';
import { buildScoringModel } from './scoring-graph.js';
import { generateTowerWeights } from './weights.js';

let root: string;
let bundle: DemoBundle;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-bundle-'));
  bundle = await buildDemoBundle({ dir: root, items: 3000, seed: 42, version: 'v1' });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('demo bundle', () => {
  it('writes both towers with the same fingerprint and a snapshot carrying it', async () => {
    const q = await readTowerMetadata(bundle.queryModel);
    const i = await readTowerMetadata(bundle.itemModel);
    expect(q).toMatchObject({
      tower: 'query',
      fingerprint: bundle.fingerprint,
      tasks: ['ctr', 'good_click'],
      dim: 64,
      outputs: ['query'],
    });
    expect(i).toMatchObject({ tower: 'item', fingerprint: bundle.fingerprint, outputs: ['item'] });
    const m = await validateSnapshot(bundle.snapshotDir, { expectedFingerprint: bundle.fingerprint });
    expect(m).toMatchObject({ snapshotVersion: 'v1', rows: 3000, dim: 64, dtype: 'float32' });
    expect((await readFile(join(bundle.snapshotPrefix, 'LATEST'), 'utf8')).trim()).toBe('v1');
    expect(JSON.parse(await readFile(bundle.modelJson, 'utf8'))).toMatchObject({
      sha256: bundle.querySha256,
      towerFingerprint: bundle.fingerprint,
    });
  });

  it('snapshot rows are the item tower of the catalogue (vs reference), ids 64-bit and distinct', async () => {
    const s = await openSnapshot(bundle.snapshotDir, { expectedFingerprint: bundle.fingerprint });
    const ids = generateItemIds(3000, 42);
    expect(s.ids).toEqual(ids);
    expect(ids.some((id) => id > 2n ** 53n)).toBe(true);
    const item = generateTowerWeights(bundle.config, 'item');
    const picks = [0, 1, 2047, 2048, 2999];
    for (const row of picks) {
      const f = generateFeatures(item.config, 1, 42, row);
      const want = runTowerReference(item, f.dense, f.categorical);
      for (let t = 0; t < 2; t++) {
        const got = s.vector(s.lookup([ids[row]!])[0]!, t);
        for (let d = 0; d < 64; d++) expect(Math.abs(got[d]! - want[t * 64 + d]!)).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it('end to end: query tower + scoring graph over the snapshot = reference scores, spread out', async () => {
    const s = await openSnapshot(bundle.snapshotDir);
    const query = await ort.InferenceSession.create(bundle.queryModel);
    const scoring = await ort.InferenceSession.create(
      buildScoringModel({
        tasks: 2,
        dim: 64,
        rows: s.rows,
        dtype: 'float32',
        table: s.embeddings as Float32Array,
      }),
    );
    const qf = generateFeatures({ numDense: 16, numCategorical: 4 }, 2, 7);
    const qOut = await query.run({
      dense: new ort.Tensor('float32', qf.dense, [2, 16]),
      categorical: new ort.Tensor('int64', qf.categorical, [2, 4]),
    });
    const qEmb = qOut.query!.data as Float32Array;
    const wantQ = runTowerReference(generateTowerWeights(bundle.config, 'query'), qf.dense, qf.categorical);
    const rows = BigInt64Array.from({ length: 2 * 1000 }, (_, i) => BigInt((i * 7) % s.rows));
    const out = await scoring.run({
      query: new ort.Tensor('float32', qEmb, [2, 2, 64]),
      rows: new ort.Tensor('int64', rows, [2, 1000]),
    });
    const scores = out.scores!.data as Float32Array;
    const want = scoreReference(wantQ, s.embeddings!, rows, { batch: 2, tasks: 2, dim: 64, k: 1000 });
    let max = 0;
    for (let i = 0; i < scores.length; i++) max = Math.max(max, Math.abs(scores[i]! - want[i]!));
    expect(max).toBeLessThanOrEqual(1e-5);
    // Scores are spread over (0, 1), not saturated.
    const sorted = Array.from(scores).sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length * 0.1)]!).toBeLessThan(0.4);
    expect(sorted[Math.floor(sorted.length * 0.9)]!).toBeGreaterThan(0.6);
  });

  it('snapshots are independent of batch size; float16 matches float32 to half precision', async () => {
    const prefix = join(root, 'other');
    const a = await buildItemSnapshot({
      itemModel: bundle.itemModel,
      prefix,
      version: 'b300',
      items: 3000,
      batchSize: 300,
      latest: false,
    });
    expect(a.files).toEqual(bundle.manifest.files);
    await expect(readFile(join(prefix, 'LATEST'))).rejects.toThrow(/ENOENT/);
    await buildItemSnapshot({
      itemModel: bundle.itemModel,
      prefix,
      version: 'h',
      items: 3000,
      dtype: 'float16',
    });
    const h = await openSnapshot(join(prefix, 'h'));
    const f = await openSnapshot(bundle.snapshotDir);
    const back = float16ToFloat32(h.embeddings as Uint16Array);
    let max = 0;
    for (let i = 0; i < back.length; i++) max = Math.max(max, Math.abs(back[i]! - f.embeddings![i]!));
    expect(max).toBeGreaterThan(0);
    expect(max).toBeLessThan(2e-3);
  });

  it('refuses to run a query tower as the item tower', async () => {
    await expect(
      buildItemSnapshot({ itemModel: bundle.queryModel, prefix: join(root, 'x'), version: 'v1', items: 10 }),
    ).rejects.toThrow(/query tower, not an item tower/);
  });
});

describe('scoring graphs over a snapshot file (external data)', () => {
  it('scores and top-K from the snapshot’s own embeddings.bin, float32 and float16', async () => {
    const prefix = join(root, 'ext');
    await buildItemSnapshot({
      itemModel: bundle.itemModel,
      prefix,
      version: 'h',
      items: 3000,
      dtype: 'float16',
    });
    for (const dir of [bundle.snapshotDir, join(prefix, 'h')]) {
      const meta = await openSnapshot(dir, { loadEmbeddings: false });
      const full = await openSnapshot(dir);
      const work = join(root, `work-${meta.dtype}`);
      const files = await writeScoringModels(meta, work);
      expect(files.link).toBe('hardlink');
      expect((await stat(join(work, 'embeddings.bin'))).ino).toBe((await stat(meta.embeddingsPath)).ino);
      const scoring = await ort.InferenceSession.create(files.scores);
      const topK = await ort.InferenceSession.create(files.topK);
      const query = Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i) * 0.3);
      const rows = BigInt64Array.from({ length: 300 }, (_, i) => BigInt((i * 13) % 3000));
      const feeds = {
        query: new ort.Tensor('float32', query, [1, 2, 64]),
        rows: new ort.Tensor('int64', rows, [1, 300]),
      };
      const got = (await scoring.run(feeds)).scores!.data as Float32Array;
      const want = scoreReference(query, full.embeddings!, rows, { batch: 1, tasks: 2, dim: 64, k: 300 });
      let max = 0;
      for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i]! - want[i]!));
      expect(max, meta.dtype).toBeLessThanOrEqual(1e-6);
      const top = await topK.run({ ...feeds, k: new ort.Tensor('int64', BigInt64Array.from([3n]), [1]) });
      const best = Math.max(...want.subarray(0, 300));
      expect(Math.abs((top.top_scores!.data as Float32Array)[0]! - best)).toBeLessThanOrEqual(1e-6);
      await rm(work, { recursive: true }); // sessions keep working after the work dir is gone
      expect(((await scoring.run(feeds)).scores!.data as Float32Array)[5]).toBe(got[5]);
    }
  });
});
