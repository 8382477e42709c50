// The offline item-tower build on real parts: Parquet catalogues written with hyparquet-writer and
// read with hyparquet, the model kit's item tower on ONNX Runtime, parts written and published
// with the snapshot writer. Given a catalogue over several files and row groups, when 4 shards
// embed it and the parts are published, then the version equals the model kit's in-process item
// tower over the same items (max |Δ| ≤ 1e-6) and LATEST names it; a bad row fails its shard
// naming file, row group and row; duplicate ids across parts and a part of another tower are
// refused at publish with LATEST unmoved.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildItemSnapshot, buildTowers, type TowerFiles } from '../modelkit/bundle.js';
import { catalogueColumns, writeParquetCatalogue } from '../modelkit/catalogue-parquet.js';
import { modelConfig } from '../modelkit/config.js';
import { openSnapshot } from '../snapshot/reader.js';
import { listRowGroups } from './catalogue.js';
import { SupersededError } from './latest-order.js';
import { PublishError, publishParts, stagedPart } from './publish.js';
import { openStore } from './store.js';
import { embedShard } from './shard.js';

const ITEMS = 5_000;
const SEED = 42;
let root: string;
let towers: TowerFiles;
let files: string[];
const config = modelConfig({ seed: SEED });
const shape = { numDense: config.item.numDense, numCategorical: config.item.numCategorical };
const columns = catalogueColumns(shape);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-embed-'));
  towers = await buildTowers({ dir: join(root, 'model'), config });
  files = await writeParquetCatalogue({
    dir: join(root, 'catalogue'),
    items: ITEMS,
    seed: SEED,
    shape,
    files: 3,
    rowGroupSize: 600,
  });
}, 120_000);
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Stages `count` shards' parts of `version` in the file store `prefix`, as the shard Job does. */
async function build(prefix: string, version: string, count: number, catalogue = files) {
  const store = openStore(prefix);
  for (let index = 0; index < count; index++) {
    await embedShard({
      files: catalogue,
      columns,
      index,
      count,
      itemModel: towers.itemModel,
      partDir: store.localPath!(stagedPart(version, index)),
      version,
    });
  }
  return store;
}

describe('an offline item-tower build', () => {
  it('shards the row groups of every file and publishes what the in-process item tower computes', async () => {
    const units = await listRowGroups(files);
    expect(units.length).toBeGreaterThanOrEqual(9); // 3 files × ≥ 3 row groups: every shard gets some
    const prefix = join(root, 'store');
    const store = await build(prefix, 'v1', 4);
    // every matrix hashed in a worker thread (from 128 MiB by default; the other tests hash on
    // the publishing thread)
    const manifest = await publishParts({
      store,
      version: 'v1',
      shards: 4,
      fingerprint: towers.fingerprint,
      workerHashBytes: 0,
    });
    expect(manifest.rows).toBe(ITEMS);
    expect(manifest.formatVersion).toBe(3); // one part per shard, moved as written, block checksums
    expect(manifest.parts?.length).toBe(4);
    expect((await readFile(join(prefix, 'LATEST'), 'utf8')).trim()).toBe('v1');

    const reference = join(root, 'reference');
    await buildItemSnapshot({
      itemModel: towers.itemModel,
      prefix: reference,
      version: 'ref',
      items: ITEMS,
      seed: SEED,
    });
    const want = await openSnapshot(join(reference, 'ref'));
    const got = await openSnapshot(join(prefix, 'v1'));
    expect(got.manifest.towerFingerprint).toBe(want.manifest.towerFingerprint);
    const rows = got.lookup(want.ids);
    expect(Array.from(rows).every((r) => r >= 0)).toBe(true);
    let maxDelta = 0;
    for (let i = 0; i < want.rows; i++)
      for (let t = 0; t < want.tasks.length; t++) {
        const a = want.vector(i, t);
        const b = got.vector(rows[i]!, t);
        for (let k = 0; k < a.length; k++) maxDelta = Math.max(maxDelta, Math.abs(a[k]! - b[k]!));
      }
    expect(maxDelta).toBeLessThanOrEqual(1e-6);
  }, 120_000);

  it('fails a shard on a bad row, naming the file, row group and row', async () => {
    const dir = join(root, 'bad');
    const good = await writeParquetCatalogue({ dir, items: 50, seed: 7, shape, rowGroupSize: 20 });
    const n = 10;
    const bad = join(dir, 'z-bad.parquet');
    parquetWriteFile({
      filename: bad,
      columnData: [
        { name: 'id', data: Array.from({ length: n }, (_, i) => BigInt(1_000_000 + i)), type: 'INT64' },
        ...columns.dense.map((name, j) => ({
          name,
          data: Array.from({ length: n }, (_, r) => (r === 7 && j === 1 ? Number.NaN : 0.5)),
          type: 'FLOAT' as const,
        })),
        ...columns.categorical.map((name) => ({
          name,
          data: Array.from({ length: n }, () => 3n),
          type: 'INT64' as const,
        })),
      ],
    });
    const partDir = join(root, 'staging', 'bad', 'part-0');
    await expect(
      embedShard({
        files: [...good, bad],
        columns,
        index: 0,
        count: 1,
        itemModel: towers.itemModel,
        partDir,
        version: 'v9',
      }),
    ).rejects.toThrow(`${bad}: row group 0, row 7: dense feature "dense_1" is NaN`);
  }, 60_000);

  it('fails a shard that meets an item id twice, naming both places', async () => {
    const a = await writeParquetCatalogue({ dir: join(root, 'twice-a'), items: 30, seed: 9, shape });
    const b = await writeParquetCatalogue({ dir: join(root, 'twice-b'), items: 30, seed: 9, shape });
    await expect(
      embedShard({
        files: [...a, ...b],
        columns,
        index: 0,
        count: 1,
        itemModel: towers.itemModel,
        partDir: join(root, 'staging', 'twice', 'part-0'),
        version: 'v1',
      }),
    ).rejects.toThrow(
      /twice-b\/part-00000\.parquet: row group 0, row 0: item id \d+ again \(first at .*twice-a/,
    );
  }, 60_000);

  it('refuses duplicate ids across parts and a part of another tower; LATEST stays where it was', async () => {
    const prefix = join(root, 'refusals');
    const store = await build(prefix, 'v1', 2);
    await publishParts({ store, version: 'v1', shards: 2, fingerprint: towers.fingerprint });

    // the same catalogue twice: every id is in two parts
    await build(prefix, 'v2', 1);
    await embedShard({
      files,
      columns,
      index: 0,
      count: 1,
      itemModel: towers.itemModel,
      partDir: store.localPath!(stagedPart('v2', 1)),
      version: 'v2',
    });
    await expect(
      publishParts({ store, version: 'v2', shards: 2, fingerprint: towers.fingerprint }),
    ).rejects.toThrow(/item id \d+ is in part 0 and in part 1/);

    // a part whose manifest names another tower; a part that is not there; a part of another version
    await build(prefix, 'v3', 2);
    await expect(
      publishParts({ store, version: 'v3', shards: 2, fingerprint: 'another-tower' }),
    ).rejects.toThrow(PublishError);
    await expect(
      publishParts({ store, version: 'v3', shards: 3, fingerprint: towers.fingerprint }),
    ).rejects.toThrow(/part 2 \(.*part-00002\): no manifest\.json: the shard did not finish its part/);
    await build(prefix, 'v4', 1);
    await rename(store.localPath!(stagedPart('v3', 1)), store.localPath!(stagedPart('v4', 1)));
    await expect(
      publishParts({ store, version: 'v4', shards: 2, fingerprint: towers.fingerprint }),
    ).rejects.toThrow(/part 1 \(.*\): made for version v3, not v4/);
    // a part whose file changed after its manifest was written
    await build(prefix, 'v5', 1);
    const ids = join(store.localPath!(stagedPart('v5', 0)), 'ids.u64');
    const bytes = await readFile(ids);
    bytes[0] = bytes[0]! ^ 1;
    await writeFile(ids, bytes);
    await expect(
      publishParts({ store, version: 'v5', shards: 1, fingerprint: towers.fingerprint }),
    ).rejects.toThrow(
      /part 0 \(.*\): ids\.u64: block 0 \(bytes 0–39999\): sha256 [0-9a-f]{64}, its manifest says [0-9a-f]{64}/,
    );
    expect((await readFile(join(prefix, 'LATEST'), 'utf8')).trim()).toBe('v1');
    await expect(readFile(join(prefix, 'v5', 'manifest.json'))).rejects.toThrow(/ENOENT/);

    // matrices are verified side by side (their blocks on one queue, every core): a changed
    // byte in one is still found, and with several parts refused the lowest is named, whichever
    // check finished first
    await build(prefix, 'v6', 3);
    const flip = async (index: number, name: string, at: (size: number) => number) => {
      const path = join(store.localPath!(stagedPart('v6', index)), name);
      const b = await readFile(path);
      b[at(b.length)] = b[at(b.length)]! ^ 0x10;
      await writeFile(path, b);
    };
    await flip(2, 'embeddings.bin', (n) => n - 1);
    await expect(
      publishParts({ store, version: 'v6', shards: 3, fingerprint: towers.fingerprint, workerHashBytes: 0 }),
    ).rejects.toThrow(
      /part 2 \(.*\): embeddings\.bin: block 0 \(bytes 0–\d+\): sha256 [0-9a-f]{64}, its manifest says [0-9a-f]{64}/,
    );
    await flip(1, 'embeddings.bin', (n) => Math.floor(n / 2));
    await flip(2, 'ids.u64', () => 0);
    for (let round = 0; round < 3; round++)
      await expect(
        publishParts({
          store,
          version: 'v6',
          shards: 3,
          fingerprint: towers.fingerprint,
          workerHashBytes: 0,
        }),
      ).rejects.toThrow(/^part 1 \(.*\): embeddings\.bin: block 0 \(bytes 0–\d+\): sha256/);
    expect((await readFile(join(prefix, 'LATEST'), 'utf8')).trim()).toBe('v1');
    await expect(readFile(join(prefix, 'v6', 'manifest.json'))).rejects.toThrow(/ENOENT/);
  }, 120_000);

  it('never moves LATEST back to an older build: refused before the checks and just before LATEST', async () => {
    const prefix = join(root, 'order');
    const [older, newer, newest] = [
      '20261206T010000Z-aaaaaaaa',
      '20261206T020000Z-bbbbbbbb',
      '20261206T030000Z-cccccccc',
    ];
    const store = await build(prefix, older, 1);
    await build(prefix, newer, 1);
    await publishParts({ store, version: newer, shards: 1, fingerprint: towers.fingerprint });
    await expect(
      publishParts({ store, version: older, shards: 1, fingerprint: towers.fingerprint }),
    ).rejects.toThrow(SupersededError);
    await expect(
      publishParts({ store, version: older, shards: 1, fingerprint: towers.fingerprint }),
    ).rejects.toThrow(
      `superseded: ${join(prefix, 'LATEST')} names ${newer}, a build that started after ${older}`,
    );
    expect((await readFile(join(prefix, 'LATEST'), 'utf8')).trim()).toBe(newer);
    await expect(stat(join(prefix, older))).rejects.toThrow(/ENOENT/);
    // a newer build publishes while this one checks its parts: refused just before LATEST
    await build(prefix, newest, 1);
    const racing = Object.create(store) as typeof store;
    let placed = 0;
    racing.place = async (from, to) => {
      if (placed++ === 0) await store.writeText('LATEST', `${newest}\n`);
      return store.place(from, to);
    };
    const between = '20261206T023000Z-dddddddd';
    await build(prefix, between, 1);
    await expect(
      publishParts({ store: racing, version: between, shards: 1, fingerprint: towers.fingerprint }),
    ).rejects.toThrow(`superseded: ${join(prefix, 'LATEST')} names ${newest}`);
    expect((await readFile(join(prefix, 'LATEST'), 'utf8')).trim()).toBe(newest);
    // versions not named the operator's way have no order: a hand-run build still publishes
    await build(prefix, 'by-hand', 1);
    await publishParts({ store, version: 'by-hand', shards: 1, fingerprint: towers.fingerprint });
    expect((await readFile(join(prefix, 'LATEST'), 'utf8')).trim()).toBe('by-hand');
  }, 120_000);

  it('a publish retried after an earlier try moved some files finds them in the version; one link each', async () => {
    const prefix = join(root, 'retried');
    const store = await build(prefix, 'v1', 2);
    // an earlier try moved part 0's files and stopped
    await mkdir(join(prefix, 'v1'), { recursive: true });
    await rename(
      join(store.localPath!(stagedPart('v1', 0)), 'ids.u64'),
      join(prefix, 'v1', 'part-00000.ids.u64'),
    );
    const m = await publishParts({ store, version: 'v1', shards: 2, fingerprint: towers.fingerprint });
    expect(m.rows).toBe(ITEMS);
    expect((await openSnapshot(join(prefix, 'v1'))).rows).toBe(ITEMS);
    // the sidecar's file source refuses a file with a second link: the version's have one
    for (const f of await readdir(join(prefix, 'v1')))
      expect((await stat(join(prefix, 'v1', f))).nlink).toBe(1);
  }, 60_000);

  it('runs as `embed shard` per Job completion index, then `embed publish`', async () => {
    const run = promisify(execFile);
    const main = join(import.meta.dirname, 'main.ts');
    const prefix = join(root, 'cli-store');
    const common = ['--prefix', prefix, '--version', 'v1', '--shards', '2'];
    const outputs = await Promise.all(
      [0, 1].map((i) =>
        run(
          process.execPath,
          [
            '--import',
            'tsx',
            main,
            'shard',
            ...common,
            '--catalogue',
            join(root, 'catalogue'),
            '--item-model',
            towers.itemModel,
          ],
          { env: { ...process.env, JOB_COMPLETION_INDEX: String(i) } },
        ),
      ),
    );
    const counts = outputs.map((o) => Number(/: (\d+) items/.exec(o.stdout)?.[1]));
    expect(counts[0]! + counts[1]!).toBe(ITEMS);
    const published = await run(process.execPath, [
      '--import',
      'tsx',
      main,
      'publish',
      ...common,
      '--fingerprint',
      towers.fingerprint,
    ]);
    expect(published.stdout).toContain(`published v1: ${ITEMS} items from 2 parts`);
    expect((await readFile(join(prefix, 'LATEST'), 'utf8')).trim()).toBe('v1');
    // the staging folder is gone once LATEST moved; the version holds both parts
    await expect(readdir(join(prefix, '.staging'))).resolves.toEqual([]);
    expect((await readdir(join(prefix, 'v1'))).sort()).toEqual([
      'manifest.json',
      'part-00000.embeddings.bin',
      'part-00000.ids.u64',
      'part-00001.embeddings.bin',
      'part-00001.ids.u64',
    ]);
    // a shard without an index (no --index, no JOB_COMPLETION_INDEX) is refused, not taken as 0
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'JOB_COMPLETION_INDEX'));
    await expect(
      run(
        process.execPath,
        ['--import', 'tsx', main, 'shard', ...common, '--catalogue', root, '--item-model', towers.itemModel],
        {
          env,
        },
      ),
    ).rejects.toThrow(/JOB_COMPLETION_INDEX "" is not a whole number/);
    // a missing flag is named
    await expect(
      run(process.execPath, ['--import', 'tsx', main, 'publish', '--version', 'v1', '--shards', '2']),
    ).rejects.toThrow(/--fingerprint is required/);
  }, 120_000);
});
