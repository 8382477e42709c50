// Writes an embedding snapshot directory (docs/internals.md): ids.u64 and embeddings.bin are
// streamed in batches while their sha256 is computed, and manifest.json is written last (after
// an fsync of the data), so a directory with a manifest is complete. Refuses duplicate ids.
//
// API:
//   interface SnapshotHeader { snapshotVersion: string; towerFingerprint: string; tasks: string[];
//     dim: number; dtype: EmbeddingDtype }
//   class SnapshotWriter {
//     static create(dir: string, header: SnapshotHeader, opts?: { blockBytes?: number })
//       : Promise<SnapshotWriter>     blockBytes: the files are listed with block checksums of
//       that size (blocks.ts) instead of a whole sha256, in the same one hash pass
//     append(ids: BigUint64Array, embeddings: Float32Array | Uint16Array): Promise<void>
//       // embeddings: ids.length × tasks × dim values, row-major; float32 values (converted when
//       // dtype is float16) or, for dtype float16 only, raw float16 bits
//     finish(createdAt?: Date): Promise<SnapshotManifest>
//     abort(): Promise<void>                              closes files, writes no manifest
//   }
//   writeSnapshot(dir, header & { ids: BigUint64Array; embeddings: Float32Array | Uint16Array;
//     createdAt?: Date }): Promise<SnapshotManifest>
//   writeLatest(prefixDir: string, version: string): Promise<void>   the storage prefix's LATEST
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { BlockHasher } from './blocks.js';
import { float32ToFloat16 } from './float16.js';
import {
  EMBEDDINGS_FILE,
  IDS_FILE,
  MANIFEST_FILE,
  SINGLE_FILE_FORMAT_VERSION,
  type EmbeddingDtype,
  type SnapshotFileEntry,
  type SnapshotManifest,
} from './format.js';
import { IdIndex } from './id-index.js';

if (endianness() !== 'LE') throw new Error('lightrank snapshots are little-endian; this host is big-endian');

export interface SnapshotHeader {
  snapshotVersion: string;
  towerFingerprint: string;
  tasks: string[];
  dim: number;
  dtype: EmbeddingDtype;
}

/** A file being written, hashed on the way: one whole sha256, or block checksums (one pass either way). */
class HashedFile {
  private readonly hash: Hash | BlockHasher;
  bytes = 0;
  constructor(
    readonly handle: FileHandle,
    blockBytes?: number,
  ) {
    this.hash = blockBytes === undefined ? createHash('sha256') : new BlockHasher(blockBytes);
  }

  entry(): SnapshotFileEntry {
    if (this.hash instanceof BlockHasher) return { bytes: this.bytes, blocks: this.hash.digest() };
    return { sha256: this.hash.digest('hex'), bytes: this.bytes };
  }

  async write(view: ArrayBufferView): Promise<void> {
    const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    this.hash.update(buf);
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await this.handle.write(buf, done, buf.length - done);
      done += bytesWritten;
    }
    this.bytes += buf.length;
  }
}

export class SnapshotWriter {
  private readonly idChunks: BigUint64Array[] = [];
  private rows = 0;
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly header: SnapshotHeader,
    private readonly ids: HashedFile,
    private readonly embeddings: HashedFile,
  ) {}

  static async create(
    dir: string,
    header: SnapshotHeader,
    opts: { blockBytes?: number } = {},
  ): Promise<SnapshotWriter> {
    if (!Number.isInteger(header.dim) || header.dim <= 0)
      throw new RangeError(`dim ${header.dim} is not positive`);
    if (header.tasks.length === 0) throw new RangeError('tasks is empty');
    if (header.dtype !== 'float32' && header.dtype !== 'float16')
      throw new RangeError(`dtype ${header.dtype}`);
    await mkdir(dir, { recursive: true });
    // An old manifest would vouch for the files we are about to overwrite.
    await rm(join(dir, MANIFEST_FILE), { force: true });
    const ids = await open(join(dir, IDS_FILE), 'w');
    const embeddings = await open(join(dir, EMBEDDINGS_FILE), 'w');
    return new SnapshotWriter(
      dir,
      header,
      new HashedFile(ids, opts.blockBytes),
      new HashedFile(embeddings, opts.blockBytes),
    );
  }

  async append(ids: BigUint64Array, embeddings: Float32Array | Uint16Array): Promise<void> {
    if (this.closed) throw new Error('SnapshotWriter: append after finish/abort');
    const { tasks, dim, dtype } = this.header;
    const want = ids.length * tasks.length * dim;
    if (embeddings.length !== want) {
      throw new RangeError(
        `SnapshotWriter.append: ${embeddings.length} values for ${ids.length} ids × ${tasks.length} tasks × ${dim} dim = ${want}`,
      );
    }
    let data: Float32Array | Uint16Array = embeddings;
    if (dtype === 'float16' && embeddings instanceof Float32Array) data = float32ToFloat16(embeddings);
    if (dtype === 'float32' && embeddings instanceof Uint16Array) {
      throw new TypeError('SnapshotWriter.append: float16 bits given for a float32 snapshot');
    }
    this.idChunks.push(ids.slice());
    await this.ids.write(ids);
    await this.embeddings.write(data);
    this.rows += ids.length;
  }

  async finish(createdAt: Date = new Date()): Promise<SnapshotManifest> {
    if (this.closed) throw new Error('SnapshotWriter: finish after finish/abort');
    const all = new BigUint64Array(this.rows);
    let at = 0;
    for (const c of this.idChunks) {
      all.set(c, at);
      at += c.length;
    }
    try {
      IdIndex.build(all); // throws duplicate_ids
    } catch (e) {
      await this.abort();
      throw e;
    }
    this.closed = true;
    for (const f of [this.ids, this.embeddings]) {
      await f.handle.sync();
      await f.handle.close();
    }
    const manifest: SnapshotManifest = {
      formatVersion: SINGLE_FILE_FORMAT_VERSION,
      snapshotVersion: this.header.snapshotVersion,
      towerFingerprint: this.header.towerFingerprint,
      tasks: [...this.header.tasks],
      dim: this.header.dim,
      dtype: this.header.dtype,
      rows: this.rows,
      files: {
        [IDS_FILE]: this.ids.entry(),
        [EMBEDDINGS_FILE]: this.embeddings.entry(),
      },
      createdAt: createdAt.toISOString(),
    };
    const tmp = join(this.dir, `.${MANIFEST_FILE}.tmp`);
    await writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
    await rename(tmp, join(this.dir, MANIFEST_FILE));
    return manifest;
  }

  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ids.handle.close();
    await this.embeddings.handle.close();
  }
}

export async function writeSnapshot(
  dir: string,
  snapshot: SnapshotHeader & {
    ids: BigUint64Array;
    embeddings: Float32Array | Uint16Array;
    createdAt?: Date;
  },
): Promise<SnapshotManifest> {
  const { ids, embeddings, createdAt, ...header } = snapshot;
  const writer = await SnapshotWriter.create(dir, header);
  try {
    await writer.append(ids, embeddings);
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return writer.finish(createdAt);
}

/** Points a storage prefix's LATEST at `version` (written to a temp name, then renamed). */
export async function writeLatest(prefixDir: string, version: string): Promise<void> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(version))
    throw new RangeError(`version ${JSON.stringify(version)}`);
  await mkdir(prefixDir, { recursive: true });
  const tmp = join(prefixDir, '.LATEST.tmp');
  await writeFile(tmp, version + '\n');
  await rename(tmp, join(prefixDir, 'LATEST'));
}
