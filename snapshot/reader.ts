// Opens an embedding snapshot for serving: validates it (manifest, fingerprint, sizes, sha256 of
// every file computed while reading, duplicate ids), loads ids and — unless told to skip it —
// the matrix into typed arrays, and builds the typed-array id index.
// Memory ≈ matrix + ids (8 B/row) + index slots (≤ 8 B/row). float16 matrices stay float16
// (raw bits in a Uint16Array).
//
// API:
//   interface OpenSnapshotOptions {
//     expectedFingerprint?: string      refuse (cause 'fingerprint') any other tower fingerprint
//     loadEmbeddings?: boolean          default true; false → matrix only checksummed (streaming),
//                                       e.g. when an ONNX graph reads embeddings.bin itself
//     onStage?(stage, seconds)          how long each step took: 'checksum' (files hashed without
//                                       loading), 'read_ids', 'id_index', 'read_embeddings'
//   }
//   openSnapshot(dir: string, opts?: OpenSnapshotOptions): Promise<Snapshot>   throws SnapshotError
//   checkSnapshotFiles(dir: string, opts?: { expectedFingerprint?: string }): Promise<SnapshotManifest>
//     openSnapshot's cheap first checks alone (manifest, fingerprint, shape, dtype, file sizes; no
//     file read), e.g. to start work that needs the shape while openSnapshot hashes the files
//   class Snapshot {
//     readonly dir: string; readonly manifest: SnapshotManifest
//     readonly ids: BigUint64Array; readonly index: IdIndex
//     readonly embeddings: Float32Array | Uint16Array | null    (Uint16Array = float16 bits)
//     readonly embeddingsPath: string                           absolute path of embeddings.bin
//     get rows(): number; get tasks(): string[]; get dim(): number; get dtype(): EmbeddingDtype
//     lookup(ids: BigUint64Array | readonly bigint[], out?: Int32Array): Int32Array   -1 = unknown
//     vector(row: number, task: number): Float32Array          a float32 copy of one embedding
//   }
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FileVerifier } from './blocks.js';
import { SnapshotError } from './errors.js';
import { checkFileSizes, ioError, readManifest, verifyBlocks } from './files.js';
import { float16ToFloat32 } from './float16.js';
import {
  bytesPerValue,
  EMBEDDINGS_FILE,
  snapshotParts,
  type EmbeddingDtype,
  type SnapshotManifest,
  type SnapshotPart,
} from './format.js';
import { IdIndex } from './id-index.js';
import { sha256File } from './sha256.js';

export type OpenStage = 'checksum' | 'read_ids' | 'id_index' | 'read_embeddings';

export interface OpenSnapshotOptions {
  expectedFingerprint?: string;
  loadEmbeddings?: boolean;
  onStage?: (stage: OpenStage, seconds: number) => void;
}

export class Snapshot {
  constructor(
    readonly dir: string,
    readonly manifest: SnapshotManifest,
    readonly ids: BigUint64Array,
    readonly index: IdIndex,
    readonly embeddings: Float32Array | Uint16Array | null,
  ) {}

  /** The one embeddings file of a single-file snapshot (a multi-part one has several: throws). */
  get embeddingsPath(): string {
    if (this.manifest.parts)
      throw new Error(`${this.dir}: a multi-part snapshot has no single ${EMBEDDINGS_FILE}`);
    return resolve(this.dir, EMBEDDINGS_FILE);
  }
  get rows(): number {
    return this.manifest.rows;
  }
  get tasks(): string[] {
    return this.manifest.tasks;
  }
  get dim(): number {
    return this.manifest.dim;
  }
  get dtype(): EmbeddingDtype {
    return this.manifest.dtype;
  }

  lookup(ids: BigUint64Array | readonly bigint[], out?: Int32Array): Int32Array {
    return this.index.lookup(ids, out);
  }

  vector(row: number, task: number): Float32Array {
    if (!this.embeddings) throw new Error('Snapshot.vector: opened with loadEmbeddings: false');
    if (!(row >= 0 && row < this.rows && task >= 0 && task < this.tasks.length)) {
      throw new RangeError(
        `Snapshot.vector: row ${row}, task ${task} outside ${this.rows}×${this.tasks.length}`,
      );
    }
    const start = (row * this.tasks.length + task) * this.dim;
    const slice = this.embeddings.subarray(start, start + this.dim);
    return slice instanceof Float32Array ? slice.slice() : float16ToFloat32(slice);
  }
}

/** Reads a whole file into `target` while hashing it; checks size and sha256 against the manifest. */
async function readVerified(
  dir: string,
  name: string,
  m: SnapshotManifest,
  target: Uint8Array,
): Promise<void> {
  const entry = m.files[name]!;
  const verify = new FileVerifier(name, entry);
  let fh;
  try {
    fh = await open(join(dir, name), 'r');
  } catch (e) {
    throw ioError(e, name);
  }
  try {
    let at = 0;
    while (at < target.length) {
      const len = Math.min(8 << 20, target.length - at);
      const { bytesRead } = await fh.read(target, at, len, at);
      if (bytesRead === 0) break;
      verify.update(target.subarray(at, at + bytesRead));
      at += bytesRead;
    }
    if (at < entry.bytes) {
      throw new SnapshotError(
        'truncated',
        `${name} is truncated: ${at} bytes, manifest says ${entry.bytes}`,
        name,
      );
    }
  } finally {
    await fh.close();
  }
  verify.finish(); // its sha256, or each block's
}

async function verifyStreaming(dir: string, name: string, m: SnapshotManifest): Promise<void> {
  const entry = m.files[name]!;
  if (entry.blocks) return verifyBlocks(dir, name, entry); // each block checked (blocks.ts)
  let got;
  try {
    got = await sha256File(join(dir, name));
  } catch (e) {
    throw ioError(e, name);
  }
  if (got.sha256 !== entry.sha256) {
    throw new SnapshotError('checksum', `${name}: sha256 ${got.sha256}, manifest says ${entry.sha256}`, name);
  }
}

export async function checkSnapshotFiles(
  dir: string,
  opts: { expectedFingerprint?: string } = {},
): Promise<SnapshotManifest> {
  const m = await readManifest(dir, opts.expectedFingerprint);
  await checkFileSizes(dir, m);
  return m;
}

export async function openSnapshot(dir: string, opts: OpenSnapshotOptions = {}): Promise<Snapshot> {
  const timed = async <T>(stage: OpenStage, work: () => T | Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const result = await work();
    opts.onStage?.(stage, (performance.now() - t0) / 1000);
    return result;
  };
  const m = await checkSnapshotFiles(dir, opts);
  const parts = snapshotParts(m);
  const idFiles = new Set(parts.map((p) => p.ids));
  const embeddingFiles = new Set(parts.map((p) => p.embeddings));
  const streamed = Object.keys(m.files).filter(
    (name) => !idFiles.has(name) && (!embeddingFiles.has(name) || opts.loadEmbeddings === false),
  );
  await timed('checksum', async () => {
    for (const name of streamed) await verifyStreaming(dir, name, m);
  });
  // the parts' files one after another into one array each (a single-file snapshot is one part)
  const readParts = async (target: Uint8Array, file: (p: SnapshotPart) => string, rowBytes: number) => {
    let at = 0;
    for (const p of parts) {
      await readVerified(dir, file(p), m, target.subarray(at, at + p.rows * rowBytes));
      at += p.rows * rowBytes;
    }
  };
  const ids = new BigUint64Array(m.rows);
  await timed('read_ids', () => readParts(new Uint8Array(ids.buffer), (p) => p.ids, 8));
  const index = await timed('id_index', () => IdIndex.build(ids));
  let embeddings: Float32Array | Uint16Array | null = null;
  if (opts.loadEmbeddings !== false) {
    const values = m.rows * m.tasks.length * m.dim;
    embeddings = m.dtype === 'float32' ? new Float32Array(values) : new Uint16Array(values);
    const target = new Uint8Array(embeddings.buffer);
    const rowBytes = m.tasks.length * m.dim * bytesPerValue(m.dtype);
    await timed('read_embeddings', () => readParts(target, (p) => p.embeddings, rowBytes));
  }
  return new Snapshot(resolve(dir), m, ids, index, embeddings);
}
