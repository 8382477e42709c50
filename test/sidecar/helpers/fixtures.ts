// Test material for the sidecar: a real query-tower ONNX file from the model kit (with its
// fingerprint in the metadata), real snapshots from the snapshot writer, and each kind of bad
// snapshot the sidecar must refuse, written into a local "storage prefix" folder:
//   <prefix>/LATEST, <prefix>/<version>/{manifest.json, ids.u64, embeddings.bin}
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { modelConfig } from '../../../modelkit/config.js';
import { towerFingerprint } from '../../../modelkit/fingerprint.js';
import { buildTowerModel } from '../../../modelkit/tower-graph.js';
import { generateTowerWeights } from '../../../modelkit/weights.js';
import {
  EMBEDDINGS_FILE,
  MANIFEST_FILE,
  SnapshotWriter,
  writeLatest,
  writeSnapshot,
} from '../../../snapshot/index.js';

export const TASKS = ['ctr', 'good_click'];
export const DIM = 8;

export interface ModelFixture {
  file: string;
  sha256: string;
  fingerprint: string;
}

/** A small real query tower (seeded, `dim`-wide embeddings), written to `dir/model.onnx`. */
export async function writeModel(dir: string, seed = 7, dim = DIM): Promise<ModelFixture> {
  const config = modelConfig({
    seed,
    tasks: TASKS,
    dim,
    query: {
      numDense: 4,
      numCategorical: 2,
      vocabSize: 50,
      embeddingDim: 4,
      experts: 2,
      gateHidden: 8,
      towerHidden: [16],
    },
    item: {
      numDense: 4,
      numCategorical: 2,
      vocabSize: 50,
      embeddingDim: 4,
      experts: 2,
      gateHidden: 8,
      towerHidden: [16],
    },
  });
  const fingerprint = towerFingerprint(config, generateTowerWeights(config, 'item'));
  const bytes = buildTowerModel(generateTowerWeights(config, 'query'), fingerprint);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'model.onnx');
  await writeFile(file, bytes);
  return { file, sha256: createHash('sha256').update(bytes).digest('hex'), fingerprint };
}

/** Writes snapshot `version` (rows × TASKS × DIM float32, ids from `firstId`) under `prefix`. */
export async function writeSnapshotVersion(
  prefix: string,
  version: string,
  fingerprint: string,
  rows = 64,
  firstId = 1,
): Promise<string> {
  const dir = path.join(prefix, version);
  const ids = BigUint64Array.from({ length: rows }, (_, i) => BigInt(firstId + i));
  const embeddings = Float32Array.from(
    { length: rows * TASKS.length * DIM },
    (_, i) => Math.sin(i + firstId) / 4,
  );
  await writeSnapshot(dir, {
    snapshotVersion: version,
    towerFingerprint: fingerprint,
    tasks: TASKS,
    dim: DIM,
    dtype: 'float32',
    ids,
    embeddings,
  });
  return dir;
}

/** A large snapshot (rows × TASKS × dim float32), streamed to disk in batches of 50k rows. */
export async function writeLargeSnapshot(
  prefix: string,
  version: string,
  fingerprint: string,
  rows: number,
  dim: number,
): Promise<string> {
  const dir = path.join(prefix, version);
  const writer = await SnapshotWriter.create(dir, {
    snapshotVersion: version,
    towerFingerprint: fingerprint,
    tasks: TASKS,
    dim,
    dtype: 'float32',
  });
  const batch = 50_000;
  for (let start = 0; start < rows; start += batch) {
    const n = Math.min(batch, rows - start);
    const ids = BigUint64Array.from({ length: n }, (_, i) => BigInt(start + i + 1));
    const emb = new Float32Array(n * TASKS.length * dim);
    for (let i = 0; i < emb.length; i++) emb[i] = Math.sin(start * 7 + i) / 8;
    await writer.append(ids, emb);
  }
  await writer.finish();
  return dir;
}

export { writeLatest };

export type Corruption = 'checksum' | 'truncated' | 'format_version' | 'fingerprint';

/** Writes snapshot `version` with one defect of the given kind. */
export async function writeBadSnapshot(
  prefix: string,
  version: string,
  fingerprint: string,
  kind: Corruption,
): Promise<void> {
  const dir = await writeSnapshotVersion(
    prefix,
    version,
    kind === 'fingerprint' ? 'f'.repeat(32) : fingerprint,
  );
  const emb = path.join(dir, EMBEDDINGS_FILE);
  if (kind === 'checksum') {
    const data = await readFile(emb);
    data[data.length - 1]! ^= 0xff;
    await writeFile(emb, data);
  } else if (kind === 'truncated') {
    const data = await readFile(emb);
    await truncate(emb, data.length - 100);
  } else if (kind === 'format_version') {
    await editManifest(dir, (m) => ({ ...m, formatVersion: 99 }));
  }
}

/** Writes snapshot `version` whose manifest lists a file at `../<escape>` (and uploads it). */
export async function writeHostileSnapshot(
  prefix: string,
  version: string,
  fingerprint: string,
  escape: string,
): Promise<void> {
  const dir = await writeSnapshotVersion(prefix, version, fingerprint);
  const files = JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')).files as Record<
    string,
    unknown
  >;
  const hostile = `../${escape}`;
  await mkdir(path.dirname(path.join(dir, hostile)), { recursive: true });
  await rename(path.join(dir, EMBEDDINGS_FILE), path.join(dir, hostile));
  await editManifest(dir, (m) => {
    const { [EMBEDDINGS_FILE]: entry, ...rest } = files;
    return { ...m, files: { ...rest, [hostile]: entry } };
  });
}

async function editManifest(
  dir: string,
  edit: (m: Record<string, unknown>) => Record<string, unknown>,
): Promise<void> {
  const file = path.join(dir, MANIFEST_FILE);
  await writeFile(file, JSON.stringify(edit(JSON.parse(await readFile(file, 'utf8')))));
}

/**
 * A multi-part version (formatVersion 2) under `prefix`, as a build publishes it: `parts` writers'
 * snapshots (whole-file sha256s, or block checksums with `blockBytes`) (consecutive ids from `firstId`, `rowsPerPart` rows each) moved into the version by
 * the embed publish step. Returns the version's folder.
 */
export async function writeMultiPartVersion(
  prefix: string,
  version: string,
  fingerprint: string,
  parts: number,
  rowsPerPart = 40,
  firstId = 1,
  /** the parts' files listed with block checksums of this size (as a build's shards list them) */
  blockBytes?: number,
): Promise<string> {
  const { publishParts, stagedPart } = await import('../../../embed/publish.js');
  const { openStore } = await import('../../../embed/store.js');
  const { SnapshotWriter } = await import('../../../snapshot/writer.js');
  for (let i = 0; i < parts; i++) {
    const first = firstId + i * rowsPerPart;
    const writer = await SnapshotWriter.create(
      path.join(prefix, stagedPart(version, i)),
      { snapshotVersion: version, towerFingerprint: fingerprint, tasks: TASKS, dim: DIM, dtype: 'float32' },
      blockBytes === undefined ? {} : { blockBytes },
    );
    await writer.append(
      BigUint64Array.from({ length: rowsPerPart }, (_, r) => BigInt(first + r)),
      Float32Array.from({ length: rowsPerPart * TASKS.length * DIM }, (_, r) => Math.sin(r + first) / 4),
    );
    await writer.finish();
  }
  await publishParts({ store: openStore(prefix), version, shards: parts, fingerprint });
  return path.join(prefix, version);
}
