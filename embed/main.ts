// `lightrank embed`: the offline item-tower build's entry point, for the pods of a Kubernetes
// Indexed Job (one completion index per shard; the Job sets JOB_COMPLETION_INDEX) and for its
// publish step. Thin: parse, run, exit non-zero with the cause on stderr (the operator reads it
// from the pod's termination message: terminationMessagePolicy FallbackToLogsOnError).
//
//   embed shard   --catalogue <uri|dir> [--files a.parquet,b.parquet] --staging <dir|file://>
//                 --version <v> --shards <n> [--index <i>]  (default: $JOB_COMPLETION_INDEX)
//                 (--item-model <file> | --item-tower-uri <uri> --item-tower-sha256 <hex>)
//                 [--fingerprint <fp>]  (refuse an item tower of another pair)
//                 [--id-column id] [--dense-columns a,b | --dense-prefix dense_]
//                 [--categorical-columns c,d | --categorical-prefix cat_] [--threads 1]
//   embed publish --staging <dir|file://> --prefix <dir|file://> --version <v> --shards <n>
//                 --fingerprint <fp>
// Exit codes: 0 done, 2 bad input (a retry cannot help: the Job's podFailurePolicy fails the
// index at once), 1 anything else (retried up to backoffLimitPerIndex).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseTowerMetadata } from '../modelkit/metadata.js';
import { BuildInputError } from './catalogue.js';
import { EXIT_BAD_INPUT, EXIT_RETRYABLE } from './exit-codes.js';
import { publishParts } from './publish.js';
import { embedShard } from './shard.js';
import { fetchItemTower, listCatalogue } from './storage.js';

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

/** A local folder given as a path or a file:// URI. */
function localDir(text: string, what: string): string {
  if (text.startsWith('file://')) return fileURLToPath(text);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    throw new Error(`${what} ${text}: only a local folder or a file:// URI is written to`);
  return text;
}

const list = (text: string | undefined) => (text ? text.split(',').filter((s) => s !== '') : undefined);

async function shard(values: Record<string, string | undefined>): Promise<void> {
  const version = need(values, 'version');
  const shards = count(need(values, 'shards'), '--shards');
  const staging = localDir(need(values, 'staging'), '--staging');
  const index = count(
    values.index ?? process.env.JOB_COMPLETION_INDEX ?? '',
    '--index / JOB_COMPLETION_INDEX',
  );
  let itemModel = values['item-model'];
  let fetched: string | undefined;
  if (!itemModel) {
    fetched = await mkdtemp(join(tmpdir(), 'lightrank-embed-'));
    itemModel = await fetchItemTower(
      need(values, 'item-tower-uri'),
      need(values, 'item-tower-sha256'),
      join(fetched, 'item.onnx'),
    );
  }
  try {
    const meta = parseTowerMetadata(await readFile(itemModel));
    const catalogue = need(values, 'catalogue');
    const uri = /^[a-z][a-z0-9+.-]*:\/\//i.test(catalogue) ? catalogue : pathToFileURL(catalogue).href;
    const files = await listCatalogue(uri, list(values.files));
    const result = await embedShard({
      files,
      columns: {
        id: values['id-column'] ?? 'id',
        dense:
          list(values['dense-columns']) ??
          Array.from({ length: meta.numDense }, (_, j) => `${values['dense-prefix'] ?? 'dense_'}${j}`),
        categorical:
          list(values['categorical-columns']) ??
          Array.from(
            { length: meta.numCategorical },
            (_, j) => `${values['categorical-prefix'] ?? 'cat_'}${j}`,
          ),
      },
      index,
      count: shards,
      itemModel,
      partDir: partDir(staging, version, index),
      version,
      ...(values.fingerprint ? { expectedFingerprint: values.fingerprint } : {}),
      ...(values.threads ? { threads: count(values.threads, '--threads') || 1 } : {}),
    });
    process.stdout.write(
      `shard ${index}/${shards}: ${result.rows} items from ${result.rowGroups} row groups in ${result.seconds.toFixed(1)} s\n`,
    );
  } finally {
    if (fetched) await rm(fetched, { recursive: true, force: true });
  }
}

async function publish(values: Record<string, string | undefined>): Promise<void> {
  const version = need(values, 'version');
  const shards = count(need(values, 'shards'), '--shards');
  const staging = localDir(need(values, 'staging'), '--staging');
  const parts = Array.from({ length: shards }, (_, i) => partDir(staging, version, i));
  const m = await publishParts({
    parts,
    prefix: localDir(need(values, 'prefix'), '--prefix'),
    version,
    fingerprint: need(values, 'fingerprint'),
  });
  // the staged parts' files were moved into the version; what is left is their manifests
  await rm(join(staging, version), { recursive: true, force: true });
  process.stdout.write(`published ${m.snapshotVersion}: ${m.rows} items from ${shards} parts\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: Object.fromEntries(
      [
        'catalogue',
        'files',
        'item-model',
        'item-tower-uri',
        'item-tower-sha256',
        'staging',
        'prefix',
        'version',
        'shards',
        'index',
        'fingerprint',
        'id-column',
        'dense-columns',
        'categorical-columns',
        'dense-prefix',
        'categorical-prefix',
        'threads',
      ].map((name) => [name, { type: 'string' as const }]),
    ),
  });
  const v = values as Record<string, string | undefined>;
  if (command === 'shard') await shard(v);
  else if (command === 'publish') await publish(v);
  else throw new Error(`unknown command "${command ?? ''}" (shard | publish)`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`embed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof BuildInputError ? EXIT_BAD_INPUT : EXIT_RETRYABLE);
});
