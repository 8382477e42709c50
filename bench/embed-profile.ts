// Where one shard of an item-tower build (embed/shard.ts) spends its time, stage by stage, on
// the benchmark's catalogue (bench/embed.ts's defaults: 200,000 items, 8 files, row groups of
// 20,000, Snappy): each stage timed alone over all the shard's row groups, medians of --rounds,
// beside the whole shard and the floor (the in-process item tower) in the same process:
//   fetch         the column chunks' bytes (the AsyncBuffer slices hyparquet asks for)
//   decompress    hyparquet's decode of the Snappy catalogue minus that of the same catalogue
//                 uncompressed
//   decode        hyparquet's parquetRead with a no-op onChunk, less the two above
//   fill + checks readRowGroup (catalogue.ts) less the bare parquetRead
//   tower         ONNX Runtime alone on the decoded tensors, 2 threads (as the floor) and 1
//   output check  firstNonFinite over every embedding
//   part write    SnapshotWriter.append + finish (as the floor's writer)
//   dup check     checkUniqueIds over all the shard's ids
// The same for OPTIONAL columns (typed arrays too, with patches/hyparquet+1.33.0.patch).
// The last lines bound what overlapping reading with the tower can give on 2 cores, from the
// measured stages: at best the shard takes max(read, tower on 1 thread) + the rest. That needs
// the reading on another thread (a worker): the "together" line runs both on this one, as the
// shard's read-ahead does, and shows that they do not overlap.
//   npx tsx bench/embed-profile.ts [--items 200000] [--rounds 5]
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parquetRead } from 'hyparquet';
import * as ort from 'onnxruntime-node';
import { listRowGroups, readRowGroup, type CatalogueRows, type RowGroupUnit } from '../embed/catalogue.js';
import { checkUniqueIds, embedShard, firstNonFinite } from '../embed/shard.js';
import { buildItemSnapshot, buildTowers, runTower } from '../modelkit/bundle.js';
import { catalogueColumns, writeParquetCatalogue } from '../modelkit/catalogue-parquet.js';
import { modelConfig } from '../modelkit/config.js';
import { parseTowerMetadata } from '../modelkit/metadata.js';
import { SnapshotWriter } from '../snapshot/writer.js';

const { values: args } = parseArgs({
  options: { items: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
});
const ITEMS = Number(args.items);
const ROUNDS = Number(args.rounds);
const SEED = 42;
const BATCH = 2048;
const log = (m: string) => process.stderr.write(`[embed-profile] ${m}\n`);

const root = await mkdtemp(join(tmpdir(), 'lightrank-embed-profile-'));
try {
  const config = modelConfig({ seed: SEED });
  const shape = { numDense: config.item.numDense, numCategorical: config.item.numCategorical };
  const columns = catalogueColumns(shape);
  const names = [columns.id, ...columns.dense, ...columns.categorical];
  const towers = await buildTowers({ dir: join(root, 'model'), config });
  const bytes = await readFile(towers.itemModel);
  const meta = parseTowerMetadata(bytes);
  const sessions = {
    2: await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 }),
    1: await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 }),
  };
  const catalogue = async (name: string, o: { nullable?: boolean; codec?: 'SNAPPY' | 'UNCOMPRESSED' }) => {
    const files = await writeParquetCatalogue({
      dir: join(root, name),
      items: ITEMS,
      seed: SEED,
      shape,
      files: 8,
      rowGroupSize: 20_000,
      ...o,
    });
    return { files, units: await listRowGroups(files) };
  };
  log(`writing 3 catalogues of ${ITEMS} items (REQUIRED + Snappy, REQUIRED uncompressed, OPTIONAL + Snappy)`);
  const required = await catalogue('required', {});
  const plain = await catalogue('uncompressed', { codec: 'UNCOMPRESSED' });
  const optional = await catalogue('optional', { nullable: true });

  const fetchAll = async (units: RowGroupUnit[]) => {
    // one read per row group, from its first column chunk to the end of its last (hyparquet's
    // plan merges the adjacent chunks of the columns asked for into one range)
    for (const u of units) {
      const chunks = u.metadata.row_groups[u.rowGroup]!.columns.map((c) => {
        const start = Number(c.meta_data!.dictionary_page_offset ?? c.meta_data!.data_page_offset);
        return [start, start + Number(c.meta_data!.total_compressed_size)] as const;
      });
      await u.buffer.slice(Math.min(...chunks.map((c) => c[0])), Math.max(...chunks.map((c) => c[1])));
    }
  };
  const bare = async (units: RowGroupUnit[]) => {
    for (const u of units)
      await parquetRead({
        file: u.buffer,
        metadata: u.metadata,
        columns: names,
        rowStart: u.rowStart,
        rowEnd: u.rowStart + u.rows,
        onChunk: () => {},
      });
  };
  const readAll = async (units: RowGroupUnit[]) => {
    const out: CatalogueRows[] = [];
    for (const u of units) out.push(await readRowGroup(u, columns));
    return out;
  };
  const data = await readAll(required.units);
  const tower = async (threads: 1 | 2) => {
    const out: Float32Array[] = [];
    for (const d of data)
      for (let s = 0; s < d.ids.length; s += BATCH) {
        const n = Math.min(BATCH, d.ids.length - s);
        const { numDense: nd, numCategorical: nc } = meta;
        out.push(
          await runTower(
            sessions[threads],
            meta,
            d.dense.subarray(s * nd, (s + n) * nd),
            d.categorical.subarray(s * nc, (s + n) * nc),
            n,
          ),
        );
      }
    return out;
  };
  const embeddings = await tower(2);
  let w = 0;
  // one shard over the whole catalogue, as the Job's only index, into a part folder of its own
  const oneShard = (files: typeof required.files) =>
    embedShard({
      files,
      columns,
      index: 0,
      count: 1,
      itemModel: towers.itemModel,
      partDir: join(root, `part-${w++}`),
      version: 'v1',
      threads: 2,
    });
  const stages: Record<string, () => Promise<unknown>> = {
    'fetch (required)': () => fetchAll(required.units),
    'parquetRead bare, REQUIRED + Snappy': () => bare(required.units),
    'parquetRead bare, REQUIRED uncompressed': () => bare(plain.units),
    'readRowGroup, REQUIRED + Snappy': () => readAll(required.units),
    'parquetRead bare, OPTIONAL + Snappy': () => bare(optional.units),
    'readRowGroup, OPTIONAL + Snappy': () => readAll(optional.units),
    'tower, 2 threads': () => tower(2),
    'tower, 1 thread': () => tower(1),
    // decoding and the tower on the same JavaScript thread, as the shard's read-ahead runs them
    'readRowGroup OPTIONAL + tower 1 thread, together': () =>
      Promise.all([readAll(optional.units), tower(1)]),
    'output check': async () => {
      for (const e of embeddings) if (firstNonFinite(e) >= 0) throw new Error('not finite');
    },
    'part write': async () => {
      const writer = await SnapshotWriter.create(join(root, `write-${w++}`), {
        snapshotVersion: 'v1',
        towerFingerprint: meta.fingerprint,
        tasks: meta.tasks,
        dim: meta.dim,
        dtype: 'float32',
      });
      let k = 0;
      for (const d of data)
        for (let s = 0; s < d.ids.length; s += BATCH)
          await writer.append(d.ids.subarray(s, s + Math.min(BATCH, d.ids.length - s)), embeddings[k++]!);
      await writer.finish();
    },
    'dup check': async () =>
      checkUniqueIds(
        data.map((d) => d.ids),
        () => '',
      ),
    'one shard (embedShard, 2 threads)': () => oneShard(required.files),
    'one shard, OPTIONAL columns': () => oneShard(optional.files),
    'floor (buildItemSnapshot)': () =>
      buildItemSnapshot({
        itemModel: towers.itemModel,
        prefix: join(root, `floor-${w++}`),
        version: 'v1',
        items: ITEMS,
        seed: SEED,
      }),
  };
  const load0 = loadavg()[0]!;
  const runs = new Map<string, number[]>(Object.keys(stages).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    log(`round ${round + 1}/${ROUNDS}`);
    for (const [name, f] of Object.entries(stages)) {
      const t0 = performance.now();
      await f();
      runs.get(name)!.push((performance.now() - t0) / 1000);
    }
  }
  const m = (name: string) => {
    const xs = [...runs.get(name)!].sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)]!;
  };
  const f = (s: number) => `${s.toFixed(3)} s`;
  const fetch = m('fetch (required)');
  const decompress = m('parquetRead bare, REQUIRED + Snappy') - m('parquetRead bare, REQUIRED uncompressed');
  const decode = m('parquetRead bare, REQUIRED uncompressed') - fetch;
  const fill = m('readRowGroup, REQUIRED + Snappy') - m('parquetRead bare, REQUIRED + Snappy');
  const read = m('readRowGroup, REQUIRED + Snappy');
  const rest = m('output check') + m('part write') + m('dup check');
  const floor = m('floor (buildItemSnapshot)');
  const shard = m('one shard (embedShard, 2 threads)');
  const lines = [
    `embed profile: ${ITEMS.toLocaleString('en-US')} items, 8 files, row groups of 20,000 (load average at start ${load0.toFixed(2)}, at end ${loadavg()[0]!.toFixed(2)}; medians of ${ROUNDS} rounds)`,
    ...Object.keys(stages).map((k) => `  ${k.padEnd(42)} ${f(m(k))}`),
    `  split of one shard (REQUIRED + Snappy):`,
    `    fetch ${f(fetch)} · decompress ${f(decompress)} · decode ${f(decode)} · fill + checks ${f(fill)}`,
    `    tower ${f(m('tower, 2 threads'))} · output check ${f(m('output check'))} · part write ${f(m('part write'))} · dup check ${f(m('dup check'))}`,
    `    sum of the stages ${f(read + m('tower, 2 threads') + rest)} against the shard's ${f(shard)}`,
    `  one shard: ${((floor / shard) * 100).toFixed(0)}% of the floor; OPTIONAL columns: ${((floor / m('one shard, OPTIONAL columns')) * 100).toFixed(0)}%`,
    `  with reading overlapped on the other core: at best max(read ${f(read)}, tower on 1 thread ${f(m('tower, 1 thread'))}) + ${f(rest)} = ${f(Math.max(read, m('tower, 1 thread')) + rest)}, ${((floor / (Math.max(read, m('tower, 1 thread')) + rest)) * 100).toFixed(0)}% of the floor`,
  ];
  console.log(lines.join('\n'));
  await sessions[1].release();
  await sessions[2].release();
} finally {
  await rm(root, { recursive: true, force: true });
}
