// Multi-part snapshots (formatVersion 2, or 3 with block checksums): a version made by several
// writers (the shards of an offline item-tower build) lists each writer's ids and embeddings files
// as a part, in row order, so that publishing needs no copy of the matrix into one file.
//
// A reader that wants the single-file layout (the scoring server maps one embeddings.bin) gets it
// with assembleParts: the part files are streamed one after another into ids.u64 and
// embeddings.bin, hashed on the way, each part removed once copied, and the manifest rewritten as
// formatVersion 1 with the same version, fingerprint, shape and creation time.
//
// API:
//   partsManifest(header & { createdAt? }, parts: PartFiles[]) → SnapshotManifest   (no I/O)
//   writePartsManifest(dir, header & { createdAt? }, parts: PartFiles[]) → SnapshotManifest
//     parts: each part's rows and its two files' { sha256, bytes } (the files already in `dir`,
//     named by partFileNames(i)); writes manifest.json (temp + rename), formatVersion 2 or 3
//   assembleParts(dir, m) → { manifest, sha256 }   m: the manifest in dir; a single-file
//     manifest is returned unchanged
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  EMBEDDINGS_FILE,
  IDS_FILE,
  MANIFEST_FILE,
  multiPartVersion,
  partFileNames,
  SINGLE_FILE_FORMAT_VERSION,
  type SnapshotFileEntry,
  type SnapshotManifest,
} from './format.js';
import type { SnapshotHeader } from './writer.js';

export interface PartFiles {
  rows: number;
  ids: SnapshotFileEntry;
  embeddings: SnapshotFileEntry;
}

async function writeManifest(dir: string, m: SnapshotManifest): Promise<void> {
  const tmp = join(dir, `.${MANIFEST_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(m, null, 2) + '\n');
  await rename(tmp, join(dir, MANIFEST_FILE));
}

/**
 * The multi-part manifest of `parts` (each part's files named by partFileNames(i)): formatVersion 3
 * when a file carries block checksums, else 2.
 */
export function partsManifest(
  header: SnapshotHeader & { createdAt?: Date },
  parts: PartFiles[],
): SnapshotManifest {
  const files: Record<string, SnapshotFileEntry> = {};
  const listed = parts.map((p, i) => {
    const names = partFileNames(i);
    files[names.ids] = p.ids;
    files[names.embeddings] = p.embeddings;
    return { rows: p.rows, ...names };
  });
  return {
    formatVersion: multiPartVersion(files),
    snapshotVersion: header.snapshotVersion,
    towerFingerprint: header.towerFingerprint,
    tasks: [...header.tasks],
    dim: header.dim,
    dtype: header.dtype,
    rows: parts.reduce((n, p) => n + p.rows, 0),
    files,
    createdAt: (header.createdAt ?? new Date()).toISOString(),
    parts: listed,
  };
}

export async function writePartsManifest(
  dir: string,
  header: SnapshotHeader & { createdAt?: Date },
  parts: PartFiles[],
): Promise<SnapshotManifest> {
  const manifest = partsManifest(header, parts);
  await writeManifest(dir, manifest);
  return manifest;
}

/** Appends `from` to the open file, hashing it; returns the bytes copied. */
async function appendFile(
  out: Awaited<ReturnType<typeof open>>,
  from: string,
  hash: ReturnType<typeof createHash>,
): Promise<number> {
  let bytes = 0;
  for await (const chunk of createReadStream(from, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    hash.update(buf);
    let done = 0;
    while (done < buf.length) done += (await out.write(buf, done, buf.length - done)).bytesWritten;
    bytes += buf.length;
  }
  return bytes;
}

export async function assembleParts(
  dir: string,
  m: SnapshotManifest,
): Promise<{ manifest: SnapshotManifest; sha256: Record<string, string> }> {
  if (!m.parts) {
    // files listed with blocks only have no whole sha256 to give
    const sha256: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.files)) if (v.sha256 !== undefined) sha256[k] = v.sha256;
    return { manifest: m, sha256 };
  }
  const files: Record<string, SnapshotFileEntry> = {};
  for (const [target, pick] of [
    [IDS_FILE, (p: { ids: string }) => p.ids],
    [EMBEDDINGS_FILE, (p: { embeddings: string }) => p.embeddings],
  ] as const) {
    const hash = createHash('sha256');
    const out = await open(join(dir, target), 'w');
    let bytes = 0;
    try {
      for (const part of m.parts) {
        const file = join(dir, pick(part));
        bytes += await appendFile(out, file, hash);
        await rm(file);
      }
      await out.sync();
    } finally {
      await out.close();
    }
    files[target] = { sha256: hash.digest('hex'), bytes };
  }
  const { parts: _parts, ...rest } = m;
  const manifest: SnapshotManifest = { ...rest, formatVersion: SINGLE_FILE_FORMAT_VERSION, files };
  await writeManifest(dir, manifest);
  return {
    manifest,
    sha256: { [IDS_FILE]: files[IDS_FILE]!.sha256!, [EMBEDDINGS_FILE]: files[EMBEDDINGS_FILE]!.sha256! },
  };
}
