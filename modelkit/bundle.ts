// Builds model-kit artefacts on disk: the query + item towers of a config, an embedding
// snapshot made by running the item tower (ONNX Runtime, in batches) over a generated
// catalogue, and the two together as a demo bundle laid out like storage:
//   <dir>/model/query.onnx, <dir>/model/item.onnx, <dir>/model/model.json
//   <dir>/snapshots/LATEST, <dir>/snapshots/<version>/{manifest.json, ids.u64, embeddings.bin}
//
// API:
//   interface TowerFiles { queryModel: string; itemModel: string; modelJson: string;
//     fingerprint: string; querySha256: string; config: ModelKitConfig }
//   buildTowers(opts: { dir: string; config?: ModelKitConfig }): Promise<TowerFiles>
//     model.json = { version: 'demo-<seed>', sha256 (of query.onnx), towerFingerprint, config }
//   buildItemSnapshot(opts: { itemModel: string; prefix: string; version: string; items: number;
//     seed?: number; dtype?: EmbeddingDtype; batchSize?: number; latest?: boolean }): Promise<SnapshotManifest>
//     writes <prefix>/<version>/ and (latest !== false) <prefix>/LATEST; item ids = generateItemIds(items, seed)
//   interface DemoBundle extends TowerFiles { snapshotPrefix: string; snapshotDir: string; manifest: SnapshotManifest }
//   buildDemoBundle(opts: { dir: string; items?: number (10000); seed?: number (42); version?: string ('v1');
//     dtype?: EmbeddingDtype ('float32'); config?: ModelKitConfig }): Promise<DemoBundle>
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { EmbeddingDtype, SnapshotManifest } from '../snapshot/format.js';
import { SnapshotWriter, writeLatest } from '../snapshot/writer.js';
import { generateFeatures, generateItemIds } from './catalogue.js';
import { modelConfig, type ModelKitConfig } from './config.js';
import { towerFingerprint } from './fingerprint.js';
import { parseTowerMetadata } from './metadata.js';
import { buildTowerModel, TOWER_INPUTS } from './tower-graph.js';
import { generateTowerWeights } from './weights.js';

export interface TowerFiles {
  queryModel: string;
  itemModel: string;
  modelJson: string;
  fingerprint: string;
  querySha256: string;
  config: ModelKitConfig;
}

export async function buildTowers(opts: { dir: string; config?: ModelKitConfig }): Promise<TowerFiles> {
  const config = opts.config ?? modelConfig();
  const item = generateTowerWeights(config, 'item');
  const fingerprint = towerFingerprint(config, item);
  const queryBytes = buildTowerModel(generateTowerWeights(config, 'query'), fingerprint);
  const itemBytes = buildTowerModel(item, fingerprint);
  await mkdir(opts.dir, { recursive: true });
  const queryModel = join(opts.dir, 'query.onnx');
  const itemModel = join(opts.dir, 'item.onnx');
  const modelJson = join(opts.dir, 'model.json');
  const querySha256 = createHash('sha256').update(queryBytes).digest('hex');
  await writeFile(queryModel, queryBytes);
  await writeFile(itemModel, itemBytes);
  const info = { version: `demo-${config.seed}`, sha256: querySha256, towerFingerprint: fingerprint, config };
  await writeFile(modelJson, JSON.stringify(info, null, 2) + '\n');
  return { queryModel, itemModel, modelJson, fingerprint, querySha256, config };
}

/** One run of a tower over n rows of features (row-major): its first output, n × (tasks × dim). */
export async function runTower(
  session: ort.InferenceSession,
  meta: { numDense: number; numCategorical: number; outputs: string[] },
  dense: Float32Array,
  categorical: BigInt64Array,
  n: number,
): Promise<Float32Array> {
  const out = await session.run({
    [TOWER_INPUTS.dense]: new ort.Tensor('float32', dense, [n, meta.numDense]),
    [TOWER_INPUTS.categorical]: new ort.Tensor('int64', categorical, [n, meta.numCategorical]),
  });
  return out[meta.outputs[0]!]!.data as Float32Array;
}

export async function buildItemSnapshot(opts: {
  itemModel: string;
  prefix: string;
  version: string;
  items: number;
  seed?: number;
  dtype?: EmbeddingDtype;
  batchSize?: number;
  latest?: boolean;
}): Promise<SnapshotManifest> {
  const { items, version } = opts;
  const seed = opts.seed ?? 42;
  const batchSize = opts.batchSize ?? 2048;
  if (!Number.isInteger(items) || items < 0) throw new RangeError(`items ${items} is not a count`);
  const bytes = await readFile(opts.itemModel);
  const meta = parseTowerMetadata(bytes);
  if (meta.tower !== 'item') throw new Error(`${opts.itemModel} is a ${meta.tower} tower, not an item tower`);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
  const writer = await SnapshotWriter.create(join(opts.prefix, version), {
    snapshotVersion: version,
    towerFingerprint: meta.fingerprint,
    tasks: meta.tasks,
    dim: meta.dim,
    dtype: opts.dtype ?? 'float32',
  });
  try {
    for (let start = 0; start < items; start += batchSize) {
      const n = Math.min(batchSize, items - start);
      const { dense, categorical } = generateFeatures(meta, n, seed, start);
      const emb = await runTower(session, meta, dense, categorical, n);
      await writer.append(generateItemIds(n, seed, start), emb);
    }
  } catch (e) {
    await writer.abort();
    throw e;
  } finally {
    await session.release();
  }
  const manifest = await writer.finish();
  if (opts.latest !== false) await writeLatest(opts.prefix, version);
  return manifest;
}

export interface DemoBundle extends TowerFiles {
  snapshotPrefix: string;
  snapshotDir: string;
  manifest: SnapshotManifest;
}

export async function buildDemoBundle(opts: {
  dir: string;
  items?: number;
  seed?: number;
  version?: string;
  dtype?: EmbeddingDtype;
  config?: ModelKitConfig;
}): Promise<DemoBundle> {
  const seed = opts.seed ?? 42;
  const version = opts.version ?? 'v1';
  const config = opts.config ?? modelConfig({ seed });
  const towers = await buildTowers({ dir: join(opts.dir, 'model'), config });
  const snapshotPrefix = join(opts.dir, 'snapshots');
  const manifest = await buildItemSnapshot({
    itemModel: towers.itemModel,
    prefix: snapshotPrefix,
    version,
    items: opts.items ?? 10_000,
    seed,
    dtype: opts.dtype ?? 'float32',
  });
  return { ...towers, snapshotPrefix, snapshotDir: join(snapshotPrefix, version), manifest };
}
