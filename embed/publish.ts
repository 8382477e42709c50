// The publish step of an offline item-tower build, run once every shard has written its part:
// every part is checked again (its manifest, sizes and sha256s; the tower fingerprint the build
// expects; the same tasks, dim and dtype as the others; no item id in two parts), then the parts
// are written as one snapshot version under the storage prefix, and LATEST is moved last. A
// refused build moves nothing: the version serving now keeps serving.
//
// The version is a multi-part snapshot (formatVersion 2, snapshot/parts.ts): each part's files are
// moved into the version's folder as they are (no copy of the matrix), and the manifest lists them
// in shard order. The sidecar assembles them into the single-file layout the server maps.
//
// API:
//   publishParts({ parts, prefix, version, fingerprint }) → SnapshotManifest   throws PublishError
import { join } from 'node:path';
import { BuildInputError } from './catalogue.js';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import {
  EMBEDDINGS_FILE,
  IDS_FILE,
  MANIFEST_FILE,
  partFileNames,
  type SnapshotManifest,
} from '../snapshot/format.js';
import { writePartsManifest, type PartFiles } from '../snapshot/parts.js';
import { openSnapshot } from '../snapshot/reader.js';
import { validateSnapshot } from '../snapshot/validate.js';
import { writeLatest } from '../snapshot/writer.js';

/** A build whose parts cannot be published (no retry fixes them): exit code 2. */
export class PublishError extends BuildInputError {
  override readonly name = 'PublishError';
}

export async function publishParts(opts: {
  /** the parts' directories, in shard order */
  parts: string[];
  /** the storage prefix (a directory): the version goes to <prefix>/<version>, then LATEST */
  prefix: string;
  version: string;
  /** the tower fingerprint of the item tower the build ran */
  fingerprint: string;
}): Promise<SnapshotManifest> {
  if (opts.parts.length === 0) throw new PublishError('no parts to publish');
  const manifests: SnapshotManifest[] = [];
  for (const [i, dir] of opts.parts.entries()) {
    try {
      manifests.push(await validateSnapshot(dir, { expectedFingerprint: opts.fingerprint }));
    } catch (err) {
      throw new PublishError(`part ${i} (${dir}): ${(err as Error).message}`);
    }
  }
  const first = manifests[0]!;
  manifests.forEach((m, i) => {
    const same = m.dim === first.dim && m.dtype === first.dtype && m.tasks.join() === first.tasks.join();
    if (!same)
      throw new PublishError(
        `part ${i}: tasks ${m.tasks.join(',')}, dim ${m.dim}, ${m.dtype} differ from part 0's ` +
          `(${first.tasks.join(',')}, dim ${first.dim}, ${first.dtype})`,
      );
  });
  if (first.dtype !== 'float32') throw new PublishError(`parts are float32; part 0 is ${first.dtype}`);
  const owner = new Map<bigint, number>();
  for (const [i, dir] of opts.parts.entries()) {
    const s = await openSnapshot(dir, { loadEmbeddings: false });
    for (const id of s.ids) {
      const other = owner.get(id);
      if (other !== undefined) throw new PublishError(`item id ${id} is in part ${other} and in part ${i}`);
      owner.set(id, i);
    }
  }
  // every part checked: move its files into the version (a rename on one file system, else a copy)
  const versionDir = join(opts.prefix, opts.version);
  await rm(join(versionDir, MANIFEST_FILE), { force: true });
  await mkdir(versionDir, { recursive: true });
  const files: PartFiles[] = [];
  for (const [i, dir] of opts.parts.entries()) {
    const m = manifests[i]!;
    const names = partFileNames(i);
    await moveFile(join(dir, IDS_FILE), join(versionDir, names.ids));
    await moveFile(join(dir, EMBEDDINGS_FILE), join(versionDir, names.embeddings));
    files.push({ rows: m.rows, ids: m.files[IDS_FILE]!, embeddings: m.files[EMBEDDINGS_FILE]! });
  }
  const manifest = await writePartsManifest(
    versionDir,
    {
      snapshotVersion: opts.version,
      towerFingerprint: opts.fingerprint,
      tasks: first.tasks,
      dim: first.dim,
      dtype: first.dtype,
    },
    files,
  );
  // last: only a complete, checked version is ever named by LATEST
  await writeLatest(opts.prefix, opts.version);
  return manifest;
}

async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
  }
}
