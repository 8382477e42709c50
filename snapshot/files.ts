// Shared steps of reading a snapshot directory: read and check the manifest, and compare each
// listed file's size on disk with the manifest.
//
// API:
//   readManifest(dir: string, expectedFingerprint?: string): Promise<SnapshotManifest>
//     throws SnapshotError manifest|format_version|dtype|shape|fingerprint
//   checkFileSizes(dir: string, m: SnapshotManifest): Promise<void>
//     throws SnapshotError missing_file|truncated|size|io
//   ioError(e: unknown, file: string): SnapshotError        missing_file for ENOENT, else io
//   verifyBlocks(dir, name, entry): Promise<void>            a file listed with blocks, streamed
//     and checked block by block (blocks.ts)      throws SnapshotError checksum|truncated|io
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FileVerifier } from './blocks.js';
import { SnapshotError } from './errors.js';
import {
  checkFingerprint,
  checkManifestShape,
  MANIFEST_FILE,
  parseManifest,
  type SnapshotManifest,
} from './format.js';

export function ioError(e: unknown, file: string): SnapshotError {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return new SnapshotError('missing_file', `${file} is missing`, file);
  return new SnapshotError('io', `${file}: ${err.message}`, file);
}

export async function readManifest(dir: string, expectedFingerprint?: string): Promise<SnapshotManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (e) {
    const err = ioError(e, MANIFEST_FILE);
    // A directory without its manifest is not a snapshot (or not a finished one).
    throw err.cause === 'missing_file'
      ? new SnapshotError('manifest', `${dir}: ${MANIFEST_FILE} is missing`)
      : err;
  }
  const m = parseManifest(text);
  checkFingerprint(m, expectedFingerprint);
  checkManifestShape(m);
  return m;
}

export async function checkFileSizes(dir: string, m: SnapshotManifest): Promise<void> {
  for (const [name, entry] of Object.entries(m.files)) {
    let size: number;
    try {
      size = (await stat(join(dir, name))).size;
    } catch (e) {
      throw ioError(e, name);
    }
    if (size < entry.bytes) {
      throw new SnapshotError(
        'truncated',
        `${name} is truncated: ${size} bytes, manifest says ${entry.bytes}`,
        name,
      );
    }
    if (size > entry.bytes) {
      throw new SnapshotError('size', `${name} has ${size} bytes, manifest says ${entry.bytes}`, name);
    }
  }
}

/** Streams a file listed with block checksums and checks each block (FileVerifier). */
export async function verifyBlocks(
  dir: string,
  name: string,
  entry: ConstructorParameters<typeof FileVerifier>[1],
): Promise<void> {
  const verify = new FileVerifier(name, entry);
  try {
    for await (const chunk of createReadStream(join(dir, name), { highWaterMark: 1 << 20 }))
      verify.update(chunk as Buffer);
  } catch (e) {
    throw ioError(e, name);
  }
  verify.finish();
}
