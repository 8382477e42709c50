// `lightrank embed`: the offline item-tower build's entry point, for the pods of a Kubernetes
// Indexed Job (one completion index per shard; the Job sets JOB_COMPLETION_INDEX) and for its
// publish step. Thin: parse, run, exit non-zero with the cause on stderr.
//
//   embed shard   --catalogue <dir> --item-model <file> --staging <dir> --version <v> --shards <n>
//                 [--index <i>]  (default: $JOB_COMPLETION_INDEX)  [--dense-prefix dense_]
//                 [--categorical-prefix cat_] [--id-column id]
//   embed publish --staging <dir> --prefix <dir> --version <v> --shards <n> --fingerprint <fp>
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseTowerMetadata } from '../modelkit/metadata.js';
import { publishParts } from './publish.js';
import { embedShard } from './shard.js';

const partDir = (staging: string, version: string, index: number) =>
  join(staging, version, `part-${String(index).padStart(5, '0')}`);

function need(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new Error(`--${name} is required`);
  return v;
}

function count(text: string, what: string): number {
  const n = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} "${text}" is not a whole number`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      catalogue: { type: 'string' },
      'item-model': { type: 'string' },
      staging: { type: 'string' },
      prefix: { type: 'string' },
      version: { type: 'string' },
      shards: { type: 'string' },
      index: { type: 'string' },
      fingerprint: { type: 'string' },
      'id-column': { type: 'string', default: 'id' },
      'dense-prefix': { type: 'string', default: 'dense_' },
      'categorical-prefix': { type: 'string', default: 'cat_' },
    },
  });
  const version = need(values, 'version');
  const shards = count(need(values, 'shards'), '--shards');
  const staging = need(values, 'staging');
  if (command === 'shard') {
    const index = count(
      values.index ?? process.env.JOB_COMPLETION_INDEX ?? '',
      '--index / JOB_COMPLETION_INDEX',
    );
    const itemModel = need(values, 'item-model');
    const meta = parseTowerMetadata(await readFile(itemModel));
    const dir = need(values, 'catalogue');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.parquet')).map((f) => join(dir, f));
    const result = await embedShard({
      files,
      columns: {
        id: values['id-column']!,
        dense: Array.from({ length: meta.numDense }, (_, j) => `${values['dense-prefix']}${j}`),
        categorical: Array.from(
          { length: meta.numCategorical },
          (_, j) => `${values['categorical-prefix']}${j}`,
        ),
      },
      index,
      count: shards,
      itemModel,
      partDir: partDir(staging, version, index),
      version,
    });
    process.stdout.write(
      `shard ${index}/${shards}: ${result.rows} items from ${result.rowGroups} row groups in ${result.seconds.toFixed(1)} s\n`,
    );
  } else if (command === 'publish') {
    const parts = Array.from({ length: shards }, (_, i) => partDir(staging, version, i));
    const m = await publishParts({
      parts,
      prefix: need(values, 'prefix'),
      version,
      fingerprint: need(values, 'fingerprint'),
    });
    process.stdout.write(`published ${m.snapshotVersion}: ${m.rows} items from ${shards} parts\n`);
  } else {
    throw new Error(`unknown command "${command ?? ''}" (shard | publish)`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`embed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
