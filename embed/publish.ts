// The publish step of an offline item-tower build, run once every shard has staged its part in the
// snapshot's storage (store.ts: a file:// folder or an s3:// prefix). Every part is checked again
// from what the storage holds: its manifest (a complete part has one: the shard writes it last),
// the build's version and tower fingerprint, sizes and sha256s of its files (streamed and hashed
// here), the same tasks, dim and dtype as the others, no item id twice in the build. Then the
// parts' files go into the version (moved on file://, copied server-side on S3: the matrix never
// passes through this process), the version's manifest is written, and LATEST is moved last. A
// refused build moves nothing: the version serving now keeps serving. A publish retried after a
// failure finds each part's files where the earlier try left them (staged, or already moved into
// the version on file://) and checks them again against the part's manifest, which stays staged;
// the staging folder is removed only after LATEST moved.
//
// The version is a multi-part snapshot (formatVersion 2, snapshot/parts.ts): the manifest lists the
// parts in shard order. The sidecar assembles them into the single-file layout the server maps.
//
// API:
//   stagedPart(version, index) → '.staging/<version>/part-NNNNN'     (a key in the store)
//   publishParts({ store, version, shards, fingerprint, signal? }) → SnapshotManifest
//     throws PublishError (bad parts: exit 2), anything else (storage: retryable)
import { createHash } from 'node:crypto';
import { BuildInputError } from './catalogue.js';
import {
  EMBEDDINGS_FILE,
  IDS_FILE,
  MANIFEST_FILE,
  SINGLE_FILE_FORMAT_VERSION,
  checkFingerprint,
  checkManifestShape,
  parseManifest,
  partFileNames,
  type SnapshotManifest,
} from '../snapshot/format.js';
import { IdIndex } from '../snapshot/id-index.js';
import { partsManifest, type PartFiles } from '../snapshot/parts.js';
import { assertVersion, type SnapshotStore } from './store.js';

export const STAGING = '.staging';

/** A build whose parts cannot be published (no retry fixes them): exit code 2. */
export class PublishError extends BuildInputError {
  override readonly name = 'PublishError';
}

export const stagedPart = (version: string, index: number): string =>
  `${STAGING}/${version}/part-${String(index).padStart(5, '0')}`;

/**
 * Where a staged part's file is: in the staging folder, or — on a file store, after an earlier try
 * of this publish moved it and stopped — already at its published name in the version.
 */
async function partFile(store: SnapshotStore, version: string, index: number, name: string): Promise<string> {
  const staged = `${stagedPart(version, index)}/${name}`;
  if (await store.exists(staged)) return staged;
  const names = partFileNames(index);
  const published = `${version}/${name === IDS_FILE ? names.ids : names.embeddings}`;
  return (await store.exists(published)) ? published : staged;
}

/** Streams a key, hashing it; `each` sees every chunk. */
async function hashKey(
  store: SnapshotStore,
  key: string,
  each?: (chunk: Uint8Array) => void,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of await store.read(key)) {
    hash.update(chunk);
    bytes += chunk.length;
    each?.(chunk);
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** One staged part checked: its manifest and its two files, the ids read. */
async function checkPart(
  store: SnapshotStore,
  version: string,
  index: number,
  fingerprint: string,
): Promise<{ manifest: SnapshotManifest; ids: BigUint64Array }> {
  const key = stagedPart(version, index);
  const refuse = (why: string) => new PublishError(`part ${index} (${store.where(key)}): ${why}`);
  const text = await store.readText(`${key}/${MANIFEST_FILE}`);
  if (text === undefined) throw refuse(`no ${MANIFEST_FILE}: the shard did not finish its part`);
  let m: SnapshotManifest;
  try {
    m = parseManifest(text);
    checkManifestShape(m);
    checkFingerprint(m, fingerprint);
  } catch (err) {
    throw refuse((err as Error).message);
  }
  if (m.formatVersion !== SINGLE_FILE_FORMAT_VERSION) throw refuse(`formatVersion ${m.formatVersion}, not 1`);
  if (m.snapshotVersion !== version) throw refuse(`made for version ${m.snapshotVersion}, not ${version}`);
  const ids = new BigUint64Array(m.rows);
  const idBytes = new Uint8Array(ids.buffer);
  let at = 0;
  for (const [name, each] of [
    [
      IDS_FILE,
      (chunk: Uint8Array) => {
        if (at + chunk.length <= idBytes.length) idBytes.set(chunk, at);
        at += chunk.length;
      },
    ],
    [EMBEDDINGS_FILE, undefined],
  ] as const) {
    let got: { sha256: string; bytes: number };
    try {
      got = await hashKey(store, await partFile(store, version, index, name), each);
    } catch (err) {
      throw refuse(`${name}: ${(err as Error).message}`);
    }
    const want = m.files[name]!;
    if (got.bytes !== want.bytes)
      throw refuse(`${name}: ${got.bytes} bytes, its manifest says ${want.bytes}`);
    if (got.sha256 !== want.sha256)
      throw refuse(`${name}: sha256 ${got.sha256}, its manifest says ${want.sha256}`);
  }
  return { manifest: m, ids };
}

/** Throws naming an item id that two parts (or one part twice) hold. */
function checkUniqueIds(parts: BigUint64Array[]): void {
  const all = new BigUint64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  try {
    IdIndex.build(all); // sorts a copy: fast when every id is unique, as a good build's are
    return;
  } catch {
    // name the id and the parts that hold it
  }
  const owner = new Map<bigint, number>();
  for (const [i, p] of parts.entries())
    for (const id of p) {
      const other = owner.get(id);
      if (other !== undefined)
        throw new PublishError(
          other === i
            ? `item id ${id} is twice in part ${i}`
            : `item id ${id} is in part ${other} and in part ${i}`,
        );
      owner.set(id, i);
    }
}

export async function publishParts(opts: {
  store: SnapshotStore;
  version: string;
  shards: number;
  /** the tower fingerprint of the item tower the build ran */
  fingerprint: string;
  /** stops before the next step (a part checked, a file copied); never between manifest and LATEST */
  signal?: AbortSignal;
}): Promise<SnapshotManifest> {
  const { store, version } = opts;
  assertVersion(version);
  if (opts.shards < 1) throw new PublishError('no parts to publish');
  const manifests: SnapshotManifest[] = [];
  const ids: BigUint64Array[] = [];
  for (let i = 0; i < opts.shards; i++) {
    opts.signal?.throwIfAborted();
    const part = await checkPart(store, version, i, opts.fingerprint);
    manifests.push(part.manifest);
    ids.push(part.ids);
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
  checkUniqueIds(ids);

  // every part checked: its files into the version, in shard order
  await store.remove(`${version}/${MANIFEST_FILE}`);
  const files: PartFiles[] = [];
  for (const [i, m] of manifests.entries()) {
    const names = partFileNames(i);
    opts.signal?.throwIfAborted();
    for (const [name, published] of [
      [IDS_FILE, names.ids],
      [EMBEDDINGS_FILE, names.embeddings],
    ] as const) {
      opts.signal?.throwIfAborted();
      const at = await partFile(store, version, i, name);
      if (at !== `${version}/${published}`) await store.place(at, `${version}/${published}`);
    }
    files.push({ rows: m.rows, ids: m.files[IDS_FILE]!, embeddings: m.files[EMBEDDINGS_FILE]! });
  }
  opts.signal?.throwIfAborted();
  const manifest = partsManifest(
    {
      snapshotVersion: version,
      towerFingerprint: opts.fingerprint,
      tasks: first.tasks,
      dim: first.dim,
      dtype: first.dtype,
    },
    files,
  );
  await store.writeText(`${version}/${MANIFEST_FILE}`, JSON.stringify(manifest, null, 2) + '\n');
  // last: only a complete, checked version is ever named by LATEST
  await store.writeText('LATEST', `${version}\n`);
  return manifest;
}
