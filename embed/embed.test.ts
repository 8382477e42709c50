// The offline item-tower build on real parts: Parquet catalogues written with hyparquet-writer and
// read with hyparquet, the model kit's item tower on ONNX Runtime, parts written and published
// with the snapshot writer. Given a catalogue over several files and row groups, when 4 shards
// embed it and the parts are published, then the version equals the model kit's in-process item
// tower over the same items (max |Δ| ≤ 1e-6) and LATEST names it; a bad row fails its shard
// naming file, row group and row; duplicate ids across parts and a part of another tower are
// refused at publish with LATEST unmoved.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
import { PublishError, publishParts } from './publish.js';
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

async function build(prefix: string, version: string, count: number, catalogue = files) {
  const parts: string[] = [];
  for (let index = 0; index < count; index++) {
    const partDir = join(root, 'staging', `${prefix}-${version}`, `part-${index}`);
    await embedShard({
      files: catalogue,
      columns,
      index,
      count,
      itemModel: towers.itemModel,
      partDir,
      version,
    });
    parts.push(partDir);
  }
  return parts;
}

describe('an offline item-tower build', () => {
  it('shards the row groups of every file and publishes what the in-process item tower computes', async () => {
    const units = await listRowGroups(files);
    expect(units.length).toBeGreaterThanOrEqual(9); // 3 files × ≥ 3 row groups: every shard gets some
    const prefix = join(root, 'store');
    const parts = await build('store', 'v1', 4);
    const manifest = await publishParts({ parts, prefix, version: 'v1', fingerprint: towers.fingerprint });
    expect(manifest.rows).toBe(ITEMS);
    expect(manifest.formatVersion).toBe(2); // one part per shard, moved as written
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
    const v1 = await build('refusals', 'v1', 2);
    await publishParts({ parts: v1, prefix, version: 'v1', fingerprint: towers.fingerprint });

    // the same catalogue twice: every id is in two parts
    const dup = await build('refusals', 'v2', 1);
    const again = join(root, 'staging', 'refusals-v2', 'again');
    await embedShard({
      files,
      columns,
      index: 0,
      count: 1,
      itemModel: towers.itemModel,
      partDir: again,
      version: 'v2',
    });
    await expect(
      publishParts({ parts: [...dup, again], prefix, version: 'v2', fingerprint: towers.fingerprint }),
    ).rejects.toThrow(/item id \d+ is in part 0 and in part 1/);

    // a part whose manifest names another tower
    await expect(
      publishParts({ parts: v1, prefix, version: 'v3', fingerprint: 'another-tower' }),
    ).rejects.toThrow(PublishError);
    expect((await readFile(join(prefix, 'LATEST'), 'utf8')).trim()).toBe('v1');
  }, 120_000);

  it('runs as `embed shard` per Job completion index, then `embed publish`', async () => {
    const run = promisify(execFile);
    const main = join(import.meta.dirname, 'main.ts');
    const staging = join(root, 'cli-staging');
    const prefix = join(root, 'cli-store');
    const common = ['--staging', staging, '--version', 'v1', '--shards', '2'];
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
      '--prefix',
      prefix,
      '--fingerprint',
      towers.fingerprint,
    ]);
    expect(published.stdout).toContain(`published v1: ${ITEMS} items from 2 parts`);
    expect((await readFile(join(prefix, 'LATEST'), 'utf8')).trim()).toBe('v1');
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
    await expect(run(process.execPath, ['--import', 'tsx', main, 'publish', ...common])).rejects.toThrow(
      /--prefix is required/,
    );
  }, 120_000);
});
