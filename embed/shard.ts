// One shard of an offline item-tower build: its share of the catalogue's row groups
// (catalogue.ts), run through the item tower on ONNX Runtime in batches, written as a part — a
// complete snapshot directory of its own (manifest with block checksums, ids, embeddings; the snapshot
// writer's format) in a staging location. A part is checked again by publish.ts before anything
// is published; a failed or stopped shard (opts.signal, checked between batches) leaves no part:
// no manifest, and its data files removed.
//
// API:
//   embedShard({ files, columns, index, count, itemModel, partDir, version }) → ShardResult
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseTowerMetadata } from '../modelkit/metadata.js';
import { runTower } from '../modelkit/bundle.js';
import { BLOCK_BYTES } from '../snapshot/blocks.js';
import { EMBEDDINGS_FILE, IDS_FILE, type SnapshotManifest } from '../snapshot/format.js';
import { SnapshotWriter } from '../snapshot/writer.js';
import {
  BuildInputError,
  CatalogueError,
  listRowGroups,
  readRowGroup,
  shardRowGroups,
  type CatalogueColumns,
} from './catalogue.js';
import type { CatalogueFile } from './storage.js';

export interface ShardOptions {
  /** the catalogue's Parquet files: paths, or storage files (storage.ts); every shard lists the same */
  files: (string | CatalogueFile)[];
  /** the model's tower fingerprint: an item tower with another is refused */
  expectedFingerprint?: string;
  columns: CatalogueColumns;
  index: number;
  count: number;
  /** the item tower (ONNX, with the model kit's tower metadata) */
  itemModel: string;
  /** where this shard's part goes (created; must not exist) */
  partDir: string;
  /** the snapshot version being built */
  version: string;
  /** rows per tower run (default 2048) */
  batchSize?: number;
  /** ONNX Runtime intra-op threads (default 1: a node runs several shards side by side) */
  threads?: number;
  /** the block size of the part's checksums (default BLOCK_BYTES, snapshot/blocks.ts) */
  blockBytes?: number;
  /** stops the shard between batches (SIGTERM): it throws the signal's reason and leaves no part */
  signal?: AbortSignal;
}

export interface ShardResult {
  manifest: SnapshotManifest;
  rows: number;
  rowGroups: number;
  seconds: number;
}

/**
 * Throws at the second place an item id is met (in reading order), naming the first. Sorting a
 * copy of all ids finds whether there is one; only then does a Map walk name the places.
 */
export function checkUniqueIds(unitIds: BigUint64Array[], at: (u: number, row: number) => string): void {
  const all = new BigUint64Array(unitIds.reduce((n, ids) => n + ids.length, 0));
  let o = 0;
  for (const ids of unitIds) {
    all.set(ids, o);
    o += ids.length;
  }
  all.sort();
  let dup = false;
  for (let i = 1; i < all.length && !dup; i++) dup = all[i] === all[i - 1];
  if (!dup) return;
  const seen = new Map<bigint, [number, number]>();
  for (const [u, ids] of unitIds.entries())
    for (let r = 0; r < ids.length; r++) {
      const first = seen.get(ids[r]!);
      if (first) throw new CatalogueError(`${at(u, r)}: item id ${ids[r]} again (first at ${at(...first)})`);
      seen.set(ids[r]!, [u, r]);
    }
}

/**
 * The index of the first NaN or ±Infinity in xs, or -1. x × 0 is 0 for every finite x and NaN
 * otherwise, so four running sums tell whether there is one at half the cost of a
 * Number.isFinite per value; only then is the place looked for.
 */
export function firstNonFinite(xs: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n4 = xs.length & ~3;
  for (let i = 0; i < n4; i += 4) {
    s0 += xs[i]! * 0;
    s1 += xs[i + 1]! * 0;
    s2 += xs[i + 2]! * 0;
    s3 += xs[i + 3]! * 0;
  }
  for (let i = n4; i < xs.length; i++) s0 += xs[i]! * 0;
  if (s0 + s1 + s2 + s3 === 0) return -1;
  return xs.findIndex((x) => !Number.isFinite(x));
}

export async function embedShard(opts: ShardOptions): Promise<ShardResult> {
  const started = performance.now();
  const bytes = await readFile(opts.itemModel);
  const meta = parseTowerMetadata(bytes);
  if (meta.tower !== 'item') throw new Error(`${opts.itemModel} is a ${meta.tower} tower, not an item tower`);
  if (opts.expectedFingerprint !== undefined && meta.fingerprint !== opts.expectedFingerprint)
    throw new BuildInputError(
      `the item tower's fingerprint ${meta.fingerprint} differs from the model's towerFingerprint ${opts.expectedFingerprint}: not the query tower's pair`,
    );
  if (opts.columns.dense.length !== meta.numDense || opts.columns.categorical.length !== meta.numCategorical)
    throw new CatalogueError(
      `the item tower takes ${meta.numDense} dense and ${meta.numCategorical} categorical features; ` +
        `the build names ${opts.columns.dense.length} and ${opts.columns.categorical.length} columns`,
    );
  const units = shardRowGroups(await listRowGroups(opts.files), opts.index, opts.count);
  const batchSize = opts.batchSize ?? 2048;
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: opts.threads ?? 1 });
  // block checksums, in the writer's one hash pass: publish verifies the blocks on every core
  const writer = await SnapshotWriter.create(
    opts.partDir,
    {
      snapshotVersion: opts.version,
      towerFingerprint: meta.fingerprint,
      tasks: meta.tasks,
      dim: meta.dim,
      dtype: 'float32',
    },
    { blockBytes: opts.blockBytes ?? BLOCK_BYTES },
  );
  const at = (u: number, row: number) =>
    `${units[u]!.file}: row group ${units[u]!.rowGroup}, row ${units[u]!.rowStart + row}`;
  // each unit's ids, for the duplicate check at the end (sorted once, not a Map per row)
  const unitIds: BigUint64Array[] = [];
  // the next row group's read starts before the tower runs the current one; its I/O can overlap
  // the tower, its decoding does not (measured: both hold this thread; bench/results-embed.md)
  const read = (u: number) => {
    const p = readRowGroup(units[u]!, opts.columns);
    p.catch(() => {}); // awaited in turn below; a failure while an earlier unit runs is not unhandled
    return p;
  };
  let next = units.length > 0 ? read(0) : undefined;
  let rows = 0;
  try {
    for (const [u, unit] of units.entries()) {
      opts.signal?.throwIfAborted();
      const data = await next!;
      next = u + 1 < units.length ? read(u + 1) : undefined;
      unitIds.push(data.ids);
      for (let start = 0; start < data.ids.length; start += batchSize) {
        opts.signal?.throwIfAborted();
        const n = Math.min(batchSize, data.ids.length - start);
        const emb = await runTower(
          session,
          meta,
          data.dense.subarray(start * meta.numDense, (start + n) * meta.numDense),
          data.categorical.subarray(start * meta.numCategorical, (start + n) * meta.numCategorical),
          n,
        );
        const i = firstNonFinite(emb);
        if (i >= 0)
          throw new CatalogueError(
            `${unit.file}: row group ${unit.rowGroup}, row ${unit.rowStart + start + Math.floor(i / (emb.length / n))}: the item tower's output is not finite`,
          );
        await writer.append(data.ids.subarray(start, start + n), emb);
        rows += n;
      }
    }
    opts.signal?.throwIfAborted();
    checkUniqueIds(unitIds, at);
  } catch (err) {
    await writer.abort();
    // what was written so far is no part: remove it, so nothing half-written stays behind
    await rm(join(opts.partDir, IDS_FILE), { force: true });
    await rm(join(opts.partDir, EMBEDDINGS_FILE), { force: true });
    throw err;
  } finally {
    await session.release();
  }
  const manifest = await writer.finish();
  return { manifest, rows, rowGroups: units.length, seconds: (performance.now() - started) / 1000 };
}
