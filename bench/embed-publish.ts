// Where the publish step of an item-tower build (embed/publish.ts) spends its time, on a file
// store: a catalogue embedded as --parts parts (embedShard, as the shard Job's pods), then each
// stage of publish timed alone over copies of the staging, medians of --rounds, beside the whole
// publishParts and the whole `embed publish` process's work (publish + staging cleanup):
//   manifests     every part's manifest read and parsed
//   ids           every part's ids read back, hashed and kept
//   dup check     checkUniqueIds's sort over all ids (IdIndex.build)
//   matrices, one thread      every part's embeddings hashed in turn on this thread
//   matrices, worker threads  the same, HASHING at a time in worker threads (as publish did before
//                             block checksums; a part written before them still is)
//   matrices, blocks          every part's blocks on one queue, this thread and HASHING − 1 worker
//                             threads pulling from it (embed/block-pool.ts, as publish does): with
//                             the workers' start-up, and with the workers already started (publish
//                             starts them before it reads the manifests); then the same over the
//                             same bytes with blocks of 8, 16 and 32 MiB (workers started)
//   publishParts (whole)      all of publish: the checks above side by side, then every file
//                             renamed into the version, its manifest and LATEST written
//   staging cleanup           .staging/<version> removed (what `embed publish` does after LATEST)
//   npx tsx bench/embed-publish.ts [--items 200000] [--parts 1] [--rounds 5]
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import { BlockPool, type BlockJob } from '../embed/block-pool.js';
import { HASHING, publishParts, stagedPart } from '../embed/publish.js';
import { embedShard } from '../embed/shard.js';
import { openStore } from '../embed/store.js';
import { buildTowers } from '../modelkit/bundle.js';
import { catalogueColumns, writeParquetCatalogue } from '../modelkit/catalogue-parquet.js';
import { modelConfig } from '../modelkit/config.js';
import { blockRange, type FileBlocks } from '../snapshot/blocks.js';
import { EMBEDDINGS_FILE, IDS_FILE, MANIFEST_FILE, parseManifest } from '../snapshot/format.js';
import { IdIndex } from '../snapshot/id-index.js';
import { sha256File } from '../snapshot/sha256.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '200000' },
    parts: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
  },
});
const ITEMS = Number(args.items);
const PARTS = Number(args.parts);
const ROUNDS = Number(args.rounds);
const log = (m: string) => process.stderr.write(`[embed-publish] ${m}\n`);

const root = await mkdtemp(join(tmpdir(), 'lightrank-embed-publish-'));
try {
  const config = modelConfig({ seed: 42 });
  const shape = { numDense: config.item.numDense, numCategorical: config.item.numCategorical };
  const towers = await buildTowers({ dir: join(root, 'model'), config });
  log(`embedding ${ITEMS} items as ${PARTS} part(s)`);
  const files = await writeParquetCatalogue({
    dir: join(root, 'catalogue'),
    items: ITEMS,
    seed: 42,
    shape,
    files: 8,
    rowGroupSize: 20_000,
  });
  const staged = openStore(join(root, 'staged'));
  for (let index = 0; index < PARTS; index++)
    await embedShard({
      files,
      columns: catalogueColumns(shape),
      index,
      count: PARTS,
      itemModel: towers.itemModel,
      partDir: staged.localPath!(stagedPart('v1', index)),
      version: 'v1',
      threads: 2,
    });
  const parts = Array.from({ length: PARTS }, (_, i) => staged.localPath!(stagedPart('v1', i)));
  const load0 = loadavg()[0]!;

  const rows: [string, number][] = [];
  /** median seconds of f over ROUNDS rounds, each on a fresh copy of the staging when asked */
  const time = async (name: string, f: (store: string) => Promise<unknown>, fresh = false) => {
    const runs: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const at = join(root, `copy-${name.replace(/\W+/g, '-')}-${r}`);
      if (fresh) await cp(join(root, 'staged'), at, { recursive: true });
      const t0 = performance.now();
      await f(at);
      runs.push((performance.now() - t0) / 1000);
      if (fresh) await rm(at, { recursive: true, force: true });
    }
    rows.push([name, runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)]!]);
  };
  const hashOnThread = async (path: string) => {
    const h = createHash('sha256');
    for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
    return h.digest('hex');
  };
  let ids: BigUint64Array[] = [];

  await time('manifests', () =>
    Promise.all(parts.map(async (p) => parseManifest(await readFile(join(p, MANIFEST_FILE), 'utf8')))),
  );
  await time('ids (read + hash)', async () => {
    ids = await Promise.all(
      parts.map(async (p) => {
        const b = await readFile(join(p, IDS_FILE));
        createHash('sha256').update(b).digest('hex');
        return new BigUint64Array(b.buffer, b.byteOffset, b.length / 8);
      }),
    );
  });
  await time('dup check', async () => {
    const all = new BigUint64Array(ids.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of ids) {
      all.set(p, o);
      o += p.length;
    }
    IdIndex.build(all);
  });
  await time('matrices, one thread', async () => {
    for (const p of parts) await hashOnThread(join(p, EMBEDDINGS_FILE));
  });
  const limit = pLimit(HASHING);
  await time(`matrices, ${HASHING} worker threads`, () =>
    Promise.all(parts.map((p) => limit(() => sha256File(join(p, EMBEDDINGS_FILE))))),
  );
  // the blocks each part's manifest lists, and the same bytes cut into blocks of other sizes
  const manifests = await Promise.all(
    parts.map(async (p) => parseManifest(await readFile(join(p, MANIFEST_FILE), 'utf8'))),
  );
  const jobsOf = (blocksOf: (i: number) => FileBlocks) =>
    parts.flatMap((p, i) => {
      const blocks = blocksOf(i);
      const bytes = manifests[i]!.files[EMBEDDINGS_FILE]!.bytes;
      return blocks.sha256.map((sha256, b): BlockJob => ({
        path: join(p, EMBEDDINGS_FILE),
        ...blockRange(blocks, bytes, b),
        sha256,
      }));
    });
  const verifyAll = async (pool: BlockPool, jobs: BlockJob[]) => {
    const results = await pool.verify(jobs);
    if (!results.every((r) => r?.ok)) throw new Error('a block differs');
  };
  const listed = jobsOf((i) => manifests[i]!.files[EMBEDDINGS_FILE]!.blocks!);
  await time(`matrices, blocks, ${HASHING} threads with start-up`, async () => {
    const pool = BlockPool.start(HASHING);
    try {
      await verifyAll(pool, listed);
    } finally {
      await pool.close();
    }
  });
  const started = BlockPool.start(HASHING);
  try {
    await time(`matrices, blocks, ${HASHING} threads started`, () => verifyAll(started, listed));
    for (const mib of [8, 16, 32]) {
      const blockBytes = mib * 1024 ** 2;
      const cut = await Promise.all(
        parts.map(async (p) => {
          const b = await readFile(join(p, EMBEDDINGS_FILE));
          const sha256: string[] = [];
          for (let at = 0; at < b.length; at += blockBytes)
            sha256.push(
              createHash('sha256')
                .update(b.subarray(at, at + blockBytes))
                .digest('hex'),
            );
          return { bytes: blockBytes, sha256 };
        }),
      );
      await time(`  blocks of ${mib} MiB (${cut[0]!.sha256.length} a part)`, () =>
        verifyAll(
          started,
          jobsOf((i) => cut[i]!),
        ),
      );
    }
  } finally {
    await started.close();
  }
  await time(
    'publishParts (whole)',
    (at) =>
      publishParts({ store: openStore(at), version: 'v1', shards: PARTS, fingerprint: towers.fingerprint }),
    true,
  );
  await time('staging cleanup', (at) => openStore(at).removeAll('.staging/v1'), true);
  const out = [
    `embed publish profile: ${ITEMS.toLocaleString('en-US')} items in ${PARTS} part(s), file store (load average at start ${load0.toFixed(2)}, at end ${loadavg()[0]!.toFixed(2)}; medians of ${ROUNDS} rounds)`,
    ...rows.map(([name, s]) => `  ${name.padEnd(44)} ${s.toFixed(3)} s`),
  ];
  console.log(out.join('\n'));
} finally {
  await rm(root, { recursive: true, force: true });
}
