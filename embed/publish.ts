// The publish step of an offline item-tower build, run once every shard has written its part:
// every part is checked again (its manifest, sizes and sha256s; the tower fingerprint the build
// expects; the same tasks, dim and dtype as the others; no item id in two parts), then the parts
// are written as one snapshot version under the storage prefix, and LATEST is moved last. A
// refused build moves nothing: the version serving now keeps serving.
//
// The version is written in today's single-file snapshot format (the parts' rows one after
// another), so the sidecar and the server read it unchanged.
//
// API:
//   publishParts({ parts, prefix, version, fingerprint }) → SnapshotManifest   throws PublishError
import { join } from 'node:path';
import type { SnapshotManifest } from '../snapshot/format.js';
import { openSnapshot } from '../snapshot/reader.js';
import { validateSnapshot } from '../snapshot/validate.js';
import { SnapshotWriter, writeLatest } from '../snapshot/writer.js';

export class PublishError extends Error {
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
  const snapshots = [];
  for (const [i, dir] of opts.parts.entries()) {
    const s = await openSnapshot(dir, { loadEmbeddings: true });
    for (const id of s.ids) {
      const other = owner.get(id);
      if (other !== undefined) throw new PublishError(`item id ${id} is in part ${other} and in part ${i}`);
      owner.set(id, i);
    }
    snapshots.push(s);
  }
  const writer = await SnapshotWriter.create(join(opts.prefix, opts.version), {
    snapshotVersion: opts.version,
    towerFingerprint: opts.fingerprint,
    tasks: first.tasks,
    dim: first.dim,
    dtype: first.dtype,
  });
  try {
    for (const s of snapshots) await writer.append(s.ids, s.embeddings as Float32Array);
  } catch (err) {
    await writer.abort();
    throw err;
  }
  const manifest = await writer.finish();
  // last: only a complete, checked version is ever named by LATEST
  await writeLatest(opts.prefix, opts.version);
  return manifest;
}
