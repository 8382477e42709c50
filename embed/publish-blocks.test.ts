// Publish verifies parts by their block checksums, on a file store (every block on one queue that
// this thread and worker threads pull from) and on a real S3 server (moto on loopback: one ranged
// GET per block). Given a part embedded by a shard with small blocks (10 blocks, the last one
// short), when it is published it goes into the version with its blocks; when one byte in the
// middle of a block changed, the file is truncated, or its manifest lists an extra block or one too
// few, publish refuses naming the part, the file and the block (with its offsets) or the cover of
// the blocks, and LATEST does not move. A part written before blocks existed (a whole sha256) is
// still verified as it was.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTowers, type TowerFiles } from '../modelkit/bundle.js';
import { catalogueColumns, writeParquetCatalogue } from '../modelkit/catalogue-parquet.js';
import { modelConfig } from '../modelkit/config.js';
import { EMBEDDINGS_FILE, IDS_FILE, MANIFEST_FILE, parseManifest } from '../snapshot/format.js';
import { startS3Server, type S3Server } from '../test/sidecar/helpers/s3-server.js';
import { publishParts, stagedPart } from './publish.js';
import { embedShard } from './shard.js';
import { openStore, type SnapshotStore } from './store.js';

const ITEMS = 5_000;
const BLOCK = 256 * 1024;
const BUCKET = 'publish-blocks';
let root: string;
let towers: TowerFiles;
let files: string[];
let s3: S3Server;
const saved = { ...process.env };
const config = modelConfig({ seed: 7 });
const shape = { numDense: config.item.numDense, numCategorical: config.item.numCategorical };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-publish-blocks-'));
  towers = await buildTowers({ dir: join(root, 'model'), config });
  files = await writeParquetCatalogue({
    dir: join(root, 'catalogue'),
    items: ITEMS,
    seed: 7,
    shape,
    files: 2,
    rowGroupSize: 1_000,
  });
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
  Object.assign(process.env, s3.env); // the store reads the SDK's variables, as in a build pod
}, 120_000);
afterAll(async () => {
  process.env = saved;
  await s3?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** A one-shard part of `version` embedded here with small blocks, changed by `mutate`, staged in `store`. */
async function stage(
  kind: 'file' | 's3',
  store: SnapshotStore,
  version: string,
  mutate?: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = kind === 'file' ? store.localPath!(stagedPart(version, 0)) : join(root, 'parts', kind, version);
  await embedShard({
    files,
    columns: catalogueColumns(shape),
    index: 0,
    count: 1,
    itemModel: towers.itemModel,
    partDir: dir,
    version,
    blockBytes: BLOCK,
  });
  await mutate?.(dir);
  if (kind === 's3')
    for (const name of [IDS_FILE, EMBEDDINGS_FILE, MANIFEST_FILE])
      // the manifest last, as a shard does
      await store.upload(join(dir, name), `${stagedPart(version, 0)}/${name}`);
}

type RawEntry = { sha256?: string; blocks?: { sha256: string[] } };
const editManifest = async (dir: string, edit: (m: { files: Record<string, RawEntry> }) => void) => {
  const m = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as {
    files: Record<string, RawEntry>;
  };
  edit(m);
  await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(m));
};

describe.each(['file', 's3'] as const)('publish on a %s store verifies block checksums', (kind) => {
  const open = () =>
    kind === 'file' ? openStore(join(root, 'store-file')) : openStore(`s3://${BUCKET}/snap`);
  const publish = (store: SnapshotStore, version: string) =>
    publishParts({ store, version, shards: 1, fingerprint: towers.fingerprint });
  const latest = async (store: SnapshotStore) => (await store.readText('LATEST'))?.trim();

  it('publishes a part with its blocks; refuses a changed byte, a short file, an extra or a missing block', async () => {
    const store = open();
    try {
      await stage(kind, store, 'v1');
      const published = await publish(store, 'v1');
      const entry = published.files['part-00000.embeddings.bin']!;
      const matrixBytes = ITEMS * config.tasks.length * config.dim * 4;
      expect(entry.bytes).toBe(matrixBytes);
      expect(entry.sha256).toBeUndefined(); // no second hash pass in the shard: blocks only
      expect(entry.blocks?.bytes).toBe(BLOCK);
      expect(entry.blocks?.sha256).toHaveLength(Math.ceil(matrixBytes / BLOCK));
      // what was published is the staged bytes, block for block
      const back = parseManifest((await store.readText(`v1/${MANIFEST_FILE}`))!);
      expect(back.files['part-00000.embeddings.bin']).toEqual(entry);
      expect(await latest(store)).toBe('v1');

      // one byte in the middle of block 4
      const mid = 4 * BLOCK + BLOCK / 2;
      await stage(kind, store, 'v2', async (dir) => {
        const b = await readFile(join(dir, EMBEDDINGS_FILE));
        b[mid] = b[mid]! ^ 0x01;
        await writeFile(join(dir, EMBEDDINGS_FILE), b);
      });
      await expect(publish(store, 'v2')).rejects.toThrow(
        new RegExp(
          `^part 0 \\(.*part-00000\\): embeddings\\.bin: block 4 \\(bytes ${4 * BLOCK}–${5 * BLOCK - 1}\\): ` +
            'sha256 [0-9a-f]{64}, its manifest says [0-9a-f]{64}$',
        ),
      );
      // the file cut short
      await stage(kind, store, 'v3', (dir) => truncate(join(dir, EMBEDDINGS_FILE), matrixBytes - 100));
      await expect(publish(store, 'v3')).rejects.toThrow(
        `embeddings.bin: ${matrixBytes - 100} bytes, its manifest says ${matrixBytes}`,
      );
      // an extra block listed, and one missing: the blocks do not cover the file
      const blocks = Math.ceil(matrixBytes / BLOCK);
      const last = matrixBytes - (blocks - 1) * BLOCK;
      await stage(kind, store, 'v4', (dir) =>
        editManifest(dir, (m) => m.files[EMBEDDINGS_FILE]!.blocks!.sha256.push('0'.repeat(64))),
      );
      await expect(publish(store, 'v4')).rejects.toThrow(
        `part 0 (${store.where(stagedPart('v4', 0))}): ${MANIFEST_FILE}: files.${EMBEDDINGS_FILE}.blocks.sha256: ` +
          `${blocks + 1} blocks of ${BLOCK} bytes do not cover the file's ${matrixBytes} bytes (${blocks} do, the last ${last} bytes long)`,
      );
      await stage(kind, store, 'v5', (dir) =>
        editManifest(dir, (m) => m.files[EMBEDDINGS_FILE]!.blocks!.sha256.pop()),
      );
      await expect(publish(store, 'v5')).rejects.toThrow(
        `${blocks - 1} blocks of ${BLOCK} bytes do not cover the file's ${matrixBytes} bytes`,
      );
      expect(await latest(store)).toBe('v1');
      for (const v of ['v2', 'v3', 'v4', 'v5'])
        expect(await store.exists(`${v}/${MANIFEST_FILE}`)).toBe(false);
    } finally {
      store.close();
    }
  }, 180_000);

  it('still verifies a part listed with one sha256 per file (written before blocks)', async () => {
    const store = open();
    const wholeSha = async (dir: string) =>
      editManifest(dir, (m) => {
        for (const name of [IDS_FILE, EMBEDDINGS_FILE]) delete m.files[name]!.blocks;
      }).then(async () => {
        const m = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as {
          files: Record<string, RawEntry>;
        };
        for (const name of [IDS_FILE, EMBEDDINGS_FILE])
          m.files[name]!.sha256 = createHash('sha256')
            .update(await readFile(join(dir, name)))
            .digest('hex');
        await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(m));
      });
    try {
      await stage(kind, store, 'w1', wholeSha);
      const published = await publish(store, 'w1');
      expect(published.files['part-00000.embeddings.bin']!.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(published.files['part-00000.embeddings.bin']!.blocks).toBeUndefined();
      await stage(kind, store, 'w2', async (dir) => {
        await wholeSha(dir);
        const b = await readFile(join(dir, EMBEDDINGS_FILE));
        b[1000] = b[1000]! ^ 0x01;
        await writeFile(join(dir, EMBEDDINGS_FILE), b);
      });
      await expect(publish(store, 'w2')).rejects.toThrow(
        /^part 0 \(.*\): embeddings\.bin: sha256 [0-9a-f]{64}, its manifest says [0-9a-f]{64}$/,
      );
      expect(await latest(store)).toBe('w1');
    } finally {
      store.close();
    }
  }, 180_000);
});
