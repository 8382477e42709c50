// The publish step of an offline item-tower build, run once every shard has staged its part in the
// snapshot's storage (store.ts: a file:// folder or an s3:// prefix). Every part is checked again
// from what the storage holds: its manifest (a complete part has one: the shard writes it last),
// the build's version and tower fingerprint, sizes and checksums of its files (read back and hashed
// here), the same tasks, dim and dtype as the others, no item id twice in the build. Then the
// parts' files go into the version (moved on file://, copied server-side on S3: the matrix never
// passes through this process), the version's manifest is written, and LATEST is moved last. A
// refused build moves nothing: the version serving now keeps serving. A publish retried after a
// failure finds each part's files where the earlier try left them (staged, or already moved into
// the version on file://) and checks them again against the part's manifest, which stays staged;
// the staging folder is removed only after LATEST moved. LATEST never moves back to an older build:
// a version of the operator's that sorts before the one LATEST names is refused, before the checks
// and again just before LATEST is written (latest-order.ts; SupersededError, exit 2).
//
// The version is a multi-part snapshot (formatVersion 2, snapshot/parts.ts): the manifest lists the
// parts in shard order. The sidecar assembles them into the single-file layout the server maps.
//
// The checks run side by side. A shard lists its files with block checksums (snapshot/blocks.ts),
// so one file is verified on every core: on a file store the worker threads of a BlockPool start
// first thing (their start-up overlaps the reads of LATEST and the manifests), then every block of
// every part's matrix goes on one queue that this thread and the workers pull from
// (block-pool.ts); on S3 each block is a ranged GET, RANGED_GETS at once, hashed as it arrives. A
// file whose size differs from its manifest is refused before a block is read; the first block
// that differs stops the queue. The ids are streamed and checked on this thread, and the
// duplicate-id check runs as soon as every part's ids are read, while the blocks are still being
// hashed. Parts listed with one sha256 per file (staged before block checksums) are hashed
// HASHING files at a time, a file store's large files in worker threads (snapshot/sha256.ts). A
// refusal names the lowest part (and its ids before its matrix) that failed, whatever finished
// first.
//
// API:
//   stagedPart(version, index) → '.staging/<version>/part-NNNNN'     (a key in the store)
//   publishParts({ store, version, shards, fingerprint, signal?, workerHashBytes?, hashing? })
//     → SnapshotManifest
//     throws PublishError (bad parts: exit 2), anything else (storage: retryable)
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import { BlockPool, type BlockJob } from './block-pool.js';
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
import { blockRange, FileVerifier } from '../snapshot/blocks.js';
import { partsManifest, type PartFiles } from '../snapshot/parts.js';
import { sha256File } from '../snapshot/sha256.js';
import { assertNotBehindLatest } from './latest-order.js';
import { assertVersion, type SnapshotStore } from './store.js';

export const STAGING = '.staging';

/** A check not started because another part was refused first. */
const SKIPPED = Symbol('skipped');

/** Files hashed at once: each holds a core while it is hashed (a worker thread on file stores). */
export const HASHING = Math.max(1, Math.min(4, availableParallelism()));

/**
 * From this size a file store's file is hashed in a worker thread. Starting one costs about 30 ms
 * (measured on the benchmark's 2-core machine), the time sha256 takes over some 45 MB: a smaller
 * file is hashed sooner on this thread, as S3's streamed bytes are.
 */
export const WORKER_HASH_BYTES = 128 * 1024 ** 2;

/** S3: ranged GETs of blocks at once (each hashed as its bytes arrive). */
export const RANGED_GETS = 8;

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

/** Streams a key listed with blocks, checking each (`each` sees every chunk); returns the key. */
async function verifyKey(
  store: SnapshotStore,
  key: string,
  m: SnapshotManifest,
  name: string,
  each?: (chunk: Uint8Array) => void,
): Promise<string> {
  const want = m.files[name]!;
  const verify = new FileVerifier(name, want);
  let bytes = 0;
  for await (const chunk of await store.read(key)) {
    bytes += chunk.length;
    if (bytes > want.bytes) throw new Error(`more than the ${want.bytes} bytes its manifest says`);
    verify.update(chunk);
    each?.(chunk);
  }
  if (bytes !== want.bytes) throw new Error(`${bytes} bytes, its manifest says ${want.bytes}`);
  const why = verify.mismatch('its manifest says');
  if (why !== undefined) throw new Error(why);
  return key;
}

/**
 * Where a part's file listed with blocks is, its size checked against the part's manifest (a
 * truncated or longer file is refused before a block is read).
 */
async function locateSized(
  store: SnapshotStore,
  version: string,
  index: number,
  m: SnapshotManifest,
  name: string,
): Promise<string> {
  const at = await partFile(store, version, index, name);
  const size = await store.size(at);
  const want = m.files[name]!.bytes;
  if (size !== want) throw new Error(`${size} bytes, its manifest says ${want}`);
  return at;
}

/** The refusal of a block: part, file, block and its bytes' offsets. */
function blockRefusal(
  refuse: (why: string) => PublishError,
  m: SnapshotManifest,
  name: string,
  b: number,
  got: { sha256: string; bytes: number } | { error: { message: string } },
): PublishError {
  const entry = m.files[name]!;
  const { start, end } = blockRange(entry.blocks!, entry.bytes, b);
  const block = `${name}: block ${b} (bytes ${start}–${end - 1})`;
  if ('error' in got) return refuse(`${block}: ${got.error.message}`);
  if (got.bytes !== end - start) return refuse(`${block}: ${got.bytes} bytes read, ${end - start} expected`);
  return refuse(`${block}: sha256 ${got.sha256}, its manifest says ${entry.blocks!.sha256[b]}`);
}

/** A staged part's manifest, checked against the build: the part is refused otherwise. */
async function partManifest(
  store: SnapshotStore,
  version: string,
  index: number,
  fingerprint: string,
): Promise<SnapshotManifest> {
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
  return m;
}

/**
 * One file of a part read back and hashed, its size and sha256 checked against the part's
 * manifest; returns where it is. `each` sees every chunk (the ids); without it, a file store's
 * file of WORKER_HASH_BYTES or more is hashed in a worker thread.
 */
async function checkPartFile(
  store: SnapshotStore,
  version: string,
  index: number,
  m: SnapshotManifest,
  name: string,
  workerHashBytes: number,
  each?: (chunk: Uint8Array) => void,
): Promise<string> {
  const refuse = (why: string) =>
    new PublishError(`part ${index} (${store.where(stagedPart(version, index))}): ${why}`);
  let at: string;
  let got: { sha256: string; bytes: number };
  try {
    at = await partFile(store, version, index, name);
    if (m.files[name]!.blocks) return await verifyKey(store, at, m, name, each);
    const path = each || m.files[name]!.bytes < workerHashBytes ? undefined : store.localPath?.(at);
    got = path !== undefined ? await sha256File(path) : await hashKey(store, at, each);
  } catch (err) {
    throw refuse(`${name}: ${(err as Error).message}`);
  }
  const want = m.files[name]!;
  if (got.bytes !== want.bytes) throw refuse(`${name}: ${got.bytes} bytes, its manifest says ${want.bytes}`);
  if (got.sha256 !== want.sha256)
    throw refuse(`${name}: sha256 ${got.sha256}, its manifest says ${want.sha256}`);
  return at;
}

/** The values, or the first rejection in the promises' order (not in time). */
async function inOrder<T>(promises: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Throws naming an item id that two parts (or one part twice) hold. */
function checkUniqueIds(parts: BigUint64Array[]): void {
  const all = new BigUint64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  // one native sort of the copy, then neighbours compared: 2–5 ms for 200,000 ids, where building
  // an IdIndex (a hash table of 8 MiB) took 6–19 ms. Only a build that has a duplicate pays for
  // naming it below.
  all.sort();
  let unique = true;
  for (let i = 1; i < all.length && unique; i++) unique = all[i] !== all[i - 1];
  if (unique) return;
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

export interface PublishOptions {
  store: SnapshotStore;
  version: string;
  shards: number;
  /** the tower fingerprint of the item tower the build ran */
  fingerprint: string;
  /** stops before the next step (a part checked, a file copied); never between manifest and LATEST */
  signal?: AbortSignal;
  /** file stores: files without blocks from this size are hashed in worker threads (default WORKER_HASH_BYTES) */
  workerHashBytes?: number;
  /** file stores: threads that verify blocks, this one included (default HASHING) */
  hashing?: number;
}

/**
 * The pool's checks of the parts in `blocked` (their matrices listed with blocks): each located and
 * its size checked, then every block of every part on one queue. Resolves to each part's outcome:
 * its key, or its refusal (its first block that failed; SKIPPED when the queue stopped first).
 */
async function poolChecks(
  store: SnapshotStore,
  version: string,
  manifests: SnapshotManifest[],
  blocked: number[],
  pool: BlockPool,
): Promise<Map<number, () => string>> {
  const name = EMBEDDINGS_FILE;
  const refuser = (i: number) => (why: string) =>
    new PublishError(`part ${i} (${store.where(stagedPart(version, i))}): ${why}`);
  const located = await Promise.allSettled(
    blocked.map((i) => locateSized(store, version, i, manifests[i]!, name)),
  );
  const jobs: BlockJob[] = [];
  const owner: [part: number, block: number][] = [];
  for (const [k, i] of blocked.entries()) {
    const r = located[k]!;
    if (r.status === 'rejected') continue;
    const entry = manifests[i]!.files[name]!;
    const path = store.localPath!(r.value);
    for (const [b, sha256] of entry.blocks!.sha256.entries()) {
      jobs.push({ path, ...blockRange(entry.blocks!, entry.bytes, b), sha256 });
      owner.push([i, b]);
    }
  }
  if (located.some((r) => r.status === 'rejected')) pool.stop();
  const results = jobs.length > 0 ? await pool.verify(jobs) : [];
  // each part: its size refusal, else its first block that failed, else SKIPPED if a block of it
  // was not hashed (the queue stopped), else its key
  const refusals = new Map<number, unknown>();
  for (const [k, i] of blocked.entries()) {
    const r = located[k]!;
    if (r.status === 'rejected') refusals.set(i, refuser(i)(`${name}: ${(r.reason as Error).message}`));
  }
  for (const [j, res] of results.entries()) {
    const [i, b] = owner[j]!;
    if (res?.ok || (refusals.has(i) && refusals.get(i) !== SKIPPED)) continue;
    refusals.set(i, res === undefined ? SKIPPED : blockRefusal(refuser(i), manifests[i]!, name, b, res));
  }
  const outcome = new Map<number, () => string>();
  for (const [k, i] of blocked.entries())
    outcome.set(i, () => {
      if (refusals.has(i)) throw refusals.get(i);
      return (located[k] as PromiseFulfilledResult<string>).value;
    });
  return outcome;
}

/** S3's checks of a part listed with blocks: one ranged GET per block, hashed as it arrives. */
async function rangedChecks(
  store: SnapshotStore,
  version: string,
  index: number,
  m: SnapshotManifest,
  limit: ReturnType<typeof pLimit>,
  stopped: () => boolean,
): Promise<string> {
  const name = EMBEDDINGS_FILE;
  const refuse = (why: string) =>
    new PublishError(`part ${index} (${store.where(stagedPart(version, index))}): ${why}`);
  let at: string;
  try {
    at = await locateSized(store, version, index, m, name);
  } catch (err) {
    throw refuse(`${name}: ${(err as Error).message}`);
  }
  const entry = m.files[name]!;
  let failed = false;
  const blocks = entry.blocks!.sha256.map((want, b) =>
    limit(async () => {
      if (failed || stopped()) throw SKIPPED;
      const { start, end } = blockRange(entry.blocks!, entry.bytes, b);
      const hash = createHash('sha256');
      let bytes = 0;
      try {
        for await (const chunk of await store.readRange(at, start, end)) {
          hash.update(chunk);
          bytes += chunk.length;
        }
      } catch (err) {
        failed = true;
        throw blockRefusal(refuse, m, name, b, { error: { message: (err as Error).message } });
      }
      const sha256 = hash.digest('hex');
      if (bytes !== end - start || sha256 !== want) {
        failed = true;
        throw blockRefusal(refuse, m, name, b, { sha256, bytes });
      }
    }),
  );
  // the lowest block that failed is named; a part whose blocks were only skipped is SKIPPED
  const settled = await Promise.allSettled(blocks);
  const refused = settled.find((r) => r.status === 'rejected' && r.reason !== SKIPPED);
  if (refused) throw (refused as PromiseRejectedResult).reason;
  if (settled.some((r) => r.status === 'rejected')) throw SKIPPED;
  return at;
}

export async function publishParts(opts: PublishOptions): Promise<SnapshotManifest> {
  assertVersion(opts.version);
  if (opts.shards < 1) throw new PublishError('no parts to publish');
  opts.signal?.throwIfAborted();
  // a file store's blocks are verified on every core: the worker threads start now, so that their
  // start-up overlaps the reads of LATEST and the manifests (block-pool.ts)
  const pool = opts.store.localPath ? BlockPool.start(opts.hashing ?? HASHING) : undefined;
  try {
    return await publishChecked(opts, pool);
  } finally {
    await pool?.close();
  }
}

async function publishChecked(opts: PublishOptions, pool: BlockPool | undefined): Promise<SnapshotManifest> {
  const { store, version } = opts;
  const signal = opts.signal;
  const workerHashBytes = opts.workerHashBytes ?? WORKER_HASH_BYTES;
  // a superseded build never moves LATEST back (latest-order.ts): refused before any byte is read
  await assertNotBehindLatest(store, version);
  const parts = Array.from({ length: opts.shards }, (_, i) => i);
  const reads = pLimit(16); // small requests: many at once, not thousands
  const manifests = await inOrder(
    parts.map((i) => reads(() => partManifest(store, version, i, opts.fingerprint))),
  );
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

  // every part's files read back and hashed, HASHING at a time, the ids first (queued first), so
  // that the duplicate check runs while the matrices are still being hashed
  const limit = pLimit(HASHING);
  let stopped = false; // after a refusal, no file starts
  const step = <T>(f: () => Promise<T>) =>
    limit(() => {
      signal?.throwIfAborted(); // stops before the next file
      if (stopped) throw SKIPPED;
      return f();
    });
  const ids = manifests.map((m) => new BigUint64Array(m.rows));
  const idChecks = parts.map((i) =>
    step(() => {
      const bytes = new Uint8Array(ids[i]!.buffer);
      let at = 0;
      return checkPartFile(store, version, i, manifests[i]!, IDS_FILE, workerHashBytes, (chunk) => {
        if (at + chunk.length <= bytes.length) bytes.set(chunk, at);
        at += chunk.length;
      });
    }),
  );
  // matrices listed with blocks: a file store's on the pool's one queue (every core), S3's as
  // ranged GETs, RANGED_GETS at once; the others (parts written before blocks) whole, as files
  const blocked = parts.filter((i) => manifests[i]!.files[EMBEDDINGS_FILE]!.blocks !== undefined);
  const onPool = pool ? poolChecks(store, version, manifests, blocked, pool) : undefined;
  onPool?.catch(() => {}); // each part awaits it below
  const ranged = pLimit(RANGED_GETS);
  const matrixChecks = parts.map((i) => {
    const m = manifests[i]!;
    if (!m.files[EMBEDDINGS_FILE]!.blocks)
      return step(() => checkPartFile(store, version, i, m, EMBEDDINGS_FILE, workerHashBytes));
    if (onPool) return onPool.then((r) => r.get(i)!());
    return rangedChecks(store, version, i, m, ranged, () => stopped || signal?.aborted === true);
  });
  for (const p of matrixChecks) p.catch(() => {}); // awaited in part order below
  const stopAll = () => {
    stopped = true;
    pool?.stop();
  };
  const onAbort = () => pool?.stop(); // no block is claimed after a SIGTERM
  signal?.addEventListener('abort', onAbort, { once: true });
  const idResults = await Promise.allSettled(idChecks);
  let duplicate: unknown;
  if (idResults.some((r) => r.status === 'rejected')) stopAll();
  else
    try {
      checkUniqueIds(ids); // while the matrices are being hashed
    } catch (err) {
      duplicate = err;
      stopAll();
    }
  const matrixResults = await Promise.allSettled(matrixChecks);
  signal?.removeEventListener('abort', onAbort);
  // the lowest part's failure, its ids before its matrix, then a duplicate id
  for (const r of parts.flatMap((i) => [idResults[i]!, matrixResults[i]!]))
    if (r.status === 'rejected' && r.reason !== SKIPPED) throw r.reason;
  if (duplicate !== undefined) throw duplicate;
  const located = (r: PromiseSettledResult<string>) => (r as PromiseFulfilledResult<string>).value;
  const idKeys = idResults.map(located);
  const matrixKeys = matrixResults.map(located);
  signal?.throwIfAborted();

  // every part checked: its files into the version, in shard order
  await store.remove(`${version}/${MANIFEST_FILE}`);
  const files: PartFiles[] = [];
  for (const [i, m] of manifests.entries()) {
    const names = partFileNames(i);
    for (const [at, published] of [
      [idKeys[i]!, names.ids],
      [matrixKeys[i]!, names.embeddings],
    ] as const) {
      signal?.throwIfAborted();
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
  // and again: a newer build may have published while this one checked its parts
  await assertNotBehindLatest(store, version);
  // last: only a complete, checked version is ever named by LATEST
  await store.writeText('LATEST', `${version}\n`);
  return manifest;
}
