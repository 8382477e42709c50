// Benchmark of the offline item-tower build (embed/), side by side in one run:
//   - the floor: the model kit's in-process item tower over the same items (features generated
//     in memory, tower runs, snapshot written: buildItemSnapshot);
//   - one shard over the whole Parquet catalogue (embedShard: read + check + tower + part written),
//     as items/s and its ratio to the floor (goal ≥ 80%);
//   - publish (every part checked again, its files moved into one multi-part version, LATEST) as
//     a share of the build (goal ≤ 10%);
//   - the build with 1, 2 and 4 shards as separate processes (`embed shard`, as Job pods would
//     run), then publish: wall time and the ratio to 1 shard.
//   npm run bench:embed -- [--items 200000] [--files 8] [--row-group 20000] [--rounds 3] [--nullable]
// --nullable writes the catalogue's columns OPTIONAL (as Spark does by default) instead of
// REQUIRED (decoded as fast with patches/hyparquet+1.33.0.patch; bench/results-embed.md).
// The floor, one shard and publish are the medians of --rounds rounds taken in turn.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { publishParts, stagedPart } from '../embed/publish.js';
import { openStore } from '../embed/store.js';
import { embedShard } from '../embed/shard.js';
import { buildItemSnapshot, buildTowers } from '../modelkit/bundle.js';
import { catalogueColumns, writeParquetCatalogue } from '../modelkit/catalogue-parquet.js';
import { modelConfig } from '../modelkit/config.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '200000' },
    files: { type: 'string', default: '8' },
    'row-group': { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    nullable: { type: 'boolean', default: false },
  },
});
const ITEMS = Number(args.items);
const SEED = 42;
const ROUNDS = Number(args.rounds);
const run = promisify(execFile);
const log = (m: string) => process.stderr.write(`[bench:embed] ${m}\n`);
const secs = async (f: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
};

const root = await mkdtemp(join(tmpdir(), 'lightrank-bench-embed-'));
try {
  const config = modelConfig({ seed: SEED });
  const shape = { numDense: config.item.numDense, numCategorical: config.item.numCategorical };
  const columns = catalogueColumns(shape);
  const towers = await buildTowers({ dir: join(root, 'model'), config });
  log(`writing a catalogue of ${ITEMS} items in ${args.files} Parquet files`);
  const catalogue = join(root, 'catalogue');
  const files = await writeParquetCatalogue({
    dir: catalogue,
    items: ITEMS,
    seed: SEED,
    shape,
    files: Number(args.files),
    rowGroupSize: Number(args['row-group']),
    nullable: args.nullable,
  });
  const load0 = loadavg()[0]!;

  // the floor and one shard take turns for ROUNDS rounds; medians decide (the machine is noisy)
  const floorRuns: number[] = [];
  const shardRuns: number[] = [];
  const publishRuns: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    log(`round ${round + 1}/${ROUNDS}: the floor (in-process item tower), then one shard + publish`);
    floorRuns.push(
      await secs(() =>
        buildItemSnapshot({
          itemModel: towers.itemModel,
          prefix: join(root, `floor-${round}`),
          version: 'v1',
          items: ITEMS,
          seed: SEED,
        }),
      ),
    );
    const store = openStore(join(root, `one-store-${round}`));
    const part = store.localPath!(stagedPart('v1', 0));
    shardRuns.push(
      await secs(() =>
        embedShard({
          files,
          columns,
          index: 0,
          count: 1,
          itemModel: towers.itemModel,
          partDir: part,
          version: 'v1',
          threads: 2, // as the floor's session: the same cores
        }),
      ),
    );
    publishRuns.push(
      await secs(() => publishParts({ store, version: 'v1', shards: 1, fingerprint: towers.fingerprint })),
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const floorS = median(floorRuns);
  const shardS = median(shardRuns);
  const publishS = median(publishRuns);

  const cli = join(import.meta.dirname, '..', 'embed', 'main.ts');
  const scaling: { shards: number; seconds: number }[] = [];
  for (const shards of [1, 2, 4]) {
    log(`${shards} shard process(es), then publish`);
    const common = ['--prefix', join(root, `store-${shards}`), '--version', 'v1', '--shards', String(shards)];
    const seconds = await secs(async () => {
      await Promise.all(
        Array.from({ length: shards }, (_, i) =>
          run(
            process.execPath,
            [
              '--import',
              'tsx',
              cli,
              'shard',
              ...common,
              '--catalogue',
              catalogue,
              '--item-model',
              towers.itemModel,
            ],
            {
              env: { ...process.env, JOB_COMPLETION_INDEX: String(i) },
            },
          ),
        ),
      );
      await run(process.execPath, [
        '--import',
        'tsx',
        cli,
        'publish',
        ...common,
        '--fingerprint',
        towers.fingerprint,
      ]);
    });
    scaling.push({ shards, seconds });
  }

  const ips = (s: number) => Math.round(ITEMS / s).toLocaleString('en-US');
  const one = scaling[0]!.seconds;
  console.log(
    [
      `embed benchmark: ${ITEMS.toLocaleString('en-US')} items, ${files.length} Parquet files, row groups of ${args['row-group']}, ${args.nullable ? 'OPTIONAL' : 'REQUIRED'} columns, Snappy (load average at start ${load0.toFixed(2)}, at end ${loadavg()[0]!.toFixed(2)}, 2 cores; medians of ${ROUNDS} rounds)`,
      `  floor (in-process item tower)          ${floorS.toFixed(2)} s   ${ips(floorS)} items/s`,
      `  one shard (read + check + tower + part) ${shardS.toFixed(2)} s   ${ips(shardS)} items/s   ${((floorS / shardS) * 100).toFixed(0)}% of the floor (goal ≥ 80%)`,
      `  publish (check + move + LATEST)         ${publishS.toFixed(2)} s   ${((publishS / (shardS + publishS)) * 100).toFixed(1)}% of the build (goal ≤ 10%)`,
      ...scaling.map(
        (s) =>
          `  ${s.shards} shard process(es) + publish       ${s.seconds.toFixed(2)} s   ${(one / s.seconds).toFixed(2)}× of 1 shard`,
      ),
    ].join('\n'),
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
