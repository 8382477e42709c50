// Full validation of a snapshot directory without loading its matrix (the sync sidecar runs it
// before publishing): manifest, fingerprint, shape/dtype vs file sizes, streaming sha256 of
// every listed file, duplicate ids. Resolves to the manifest or throws a SnapshotError.
//
// API:
//   validateSnapshot(dir: string, opts?: { expectedFingerprint?: string }): Promise<SnapshotManifest>
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SnapshotError } from './errors.js';
import { checkFileSizes, ioError, readManifest } from './files.js';
import { IDS_FILE, type SnapshotManifest } from './format.js';
import { IdIndex } from './id-index.js';
import { sha256File } from './sha256.js';

export async function validateSnapshot(
  dir: string,
  opts: { expectedFingerprint?: string } = {},
): Promise<SnapshotManifest> {
  const m = await readManifest(dir, opts.expectedFingerprint);
  await checkFileSizes(dir, m);
  for (const [name, entry] of Object.entries(m.files)) {
    let got: { sha256: string; bytes: number };
    try {
      got = await sha256File(join(dir, name));
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
  const buf = await readFile(join(dir, IDS_FILE));
  const ids = new BigUint64Array(m.rows);
  new Uint8Array(ids.buffer).set(buf.subarray(0, m.rows * 8));
  IdIndex.build(ids);
  return m;
}
