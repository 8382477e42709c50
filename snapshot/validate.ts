// Full validation of a snapshot directory without loading its matrix (the sync sidecar runs it
// before publishing): manifest, fingerprint, shape/dtype vs file sizes, streaming sha256 of
// every listed file, duplicate ids. Resolves to the manifest or throws a SnapshotError.
// A caller that computed a file's sha256 while writing it (the sidecar, while downloading) passes
// it in `sha256`: that digest is compared with the manifest instead of reading the file again
// (its size on disk is still checked). A file listed with block checksums (blocks.ts) is
// verified block by block, here or — when the caller did so while writing it — named in
// `verified`.
//
// API:
//   validateSnapshot(dir: string, opts?: {
//     expectedFingerprint?: string
//     sha256?: Record<string, string>     file name → sha256 (hex) already computed by the caller
//     verified?: Set<string>              files the caller checked against their blocks already
//   }): Promise<SnapshotManifest>
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SnapshotError } from './errors.js';
import { checkFileSizes, ioError, readManifest, verifyBlocks } from './files.js';
import { snapshotParts, type SnapshotManifest } from './format.js';
import { IdIndex } from './id-index.js';
import { sha256File } from './sha256.js';

export async function validateSnapshot(
  dir: string,
  opts: { expectedFingerprint?: string; sha256?: Record<string, string>; verified?: Set<string> } = {},
): Promise<SnapshotManifest> {
  const m = await readManifest(dir, opts.expectedFingerprint);
  await checkFileSizes(dir, m);
  for (const [name, entry] of Object.entries(m.files)) {
    if (entry.blocks) {
      if (!opts.verified?.has(name)) await verifyBlocks(dir, name, entry);
      continue;
    }
    const known = opts.sha256 && Object.hasOwn(opts.sha256, name) ? opts.sha256[name] : undefined;
    let got: { sha256: string; bytes: number };
    try {
      got = known !== undefined ? { sha256: known, bytes: entry.bytes } : await sha256File(join(dir, name));
    } catch (e) {
      throw ioError(e, name);
    }
    if (got.bytes !== entry.bytes) {
      throw new SnapshotError(
        'truncated',
        `${name} changed size while being read (${got.bytes} bytes)`,
        name,
      );
    }
    if (got.sha256 !== entry.sha256) {
      throw new SnapshotError(
        'checksum',
        `${name}: sha256 ${got.sha256}, manifest says ${entry.sha256}`,
        name,
      );
    }
  }
  const ids = new BigUint64Array(m.rows);
  let at = 0;
  for (const part of snapshotParts(m)) {
    const buf = await readFile(join(dir, part.ids));
    new Uint8Array(ids.buffer, at, part.rows * 8).set(buf.subarray(0, part.rows * 8));
    at += part.rows * 8;
  }
  IdIndex.build(ids);
  return m;
}
