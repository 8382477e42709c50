// `lightrank embed`: the offline item-tower build's entry point, for the pods of a Kubernetes
// Indexed Job (one completion index per shard; the Job sets JOB_COMPLETION_INDEX) and for its
// publish step. Thin: parse, run, exit non-zero with the cause on stderr (the operator reads it
// from the pod's termination message: terminationMessagePolicy FallbackToLogsOnError).
//
//   embed shard   --catalogue <uri|dir> [--files a.parquet,b.parquet] --prefix <dir|file://|s3://>
//                 --version <v> --shards <n> [--index <i>]  (default: $JOB_COMPLETION_INDEX)
//                 (--item-model <file> | --item-tower-uri <uri> --item-tower-sha256 <hex>)
//                 [--fingerprint <fp>]  (refuse an item tower of another pair)
//                 [--id-column id] [--dense-columns a,b | --dense-prefix dense_]
//                 [--categorical-columns c,d | --categorical-prefix cat_] [--threads 1]
//   embed publish --prefix <dir|file://|s3://> --version <v> --shards <n> --fingerprint <fp>
// --prefix is the snapshot's storage prefix: a shard stages its part under
// <prefix>/.staging/<version>/part-NNNNN (on S3: written in the pod's TMPDIR, then uploaded, the
// part's manifest last), and publish writes <prefix>/<version>/ and then LATEST (publish.ts).
//
// SIGTERM/SIGINT (a Job's pod deleted, a node drained) stop the work at the next batch or step:
// a shard leaves no part (no manifest; its files removed), a publish has not moved LATEST unless
// it got that far; the exit code is 128 + the signal's number. If the work does not stop within
// STOP_DEADLINE_MS (a stuck storage request), the process exits anyway; whatever it leaves has no
// manifest, so nothing looks complete.
//
// A shard that finishes writes {"items","rowGroups","seconds"} as one JSON line to
// $LIGHTRANK_TERMINATION_MESSAGE_PATH when set (the operator sets its container's
// terminationMessagePath): the kubelet reports it in the pod's status, and the operator adds the
// finished shards' items into the build's items/s.
//
// Exit codes: 0 done, 2 bad input (a retry cannot help: the Job's podFailurePolicy fails the
// index at once), 143/130 stopped by SIGTERM/SIGINT, 1 anything else (retried up to
// backoffLimitPerIndex).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PodEnv } from '../api/pod-env.js';
import { parseTowerMetadata } from '../modelkit/metadata.js';
import { EMBEDDINGS_FILE, IDS_FILE, MANIFEST_FILE } from '../snapshot/format.js';
import { BuildInputError } from './catalogue.js';
import { EXIT_BAD_INPUT, EXIT_RETRYABLE } from './exit-codes.js';
import { publishParts, stagedPart, STAGING } from './publish.js';
import { removeStaleStaging } from './staging-gc.js';
import { embedShard } from './shard.js';
import { fetchItemTower, listCatalogue } from './storage.js';
import { assertVersion, openStore } from './store.js';

/** How long a stop may take before the process exits without finishing it. */
const STOP_DEADLINE_MS = 10_000;

/** The work was stopped by a signal. */
class StoppedError extends Error {
  override readonly name = 'StoppedError';
  constructor(readonly signal: 'SIGTERM' | 'SIGINT') {
    super(`stopped by ${signal}`);
  }
}

const stop = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    const code = 128 + constants.signals[signal];
    if (stop.signal.aborted) process.exit(code); // a second signal: now
    process.stderr.write(`embed: ${signal}: stopping\n`);
    stop.abort(new StoppedError(signal));
    setTimeout(() => {
      process.stderr.write(
        `embed: stopped by ${signal} without finishing the stop in ${STOP_DEADLINE_MS / 1000} s\n`,
      );
      process.exit(code);
    }, STOP_DEADLINE_MS).unref();
  });
}

/**
 * The shard's result for the operator, as its container's termination message (one JSON line; the
 * kubelet reports the file's content in the pod's status): the items/s of the build's progress.
 */
async function report(result: { items: number; rowGroups: number; seconds: number }): Promise<void> {
  const path = process.env[PodEnv.TerminationMessagePath];
  if (!path) return;
  const line = JSON.stringify({
    items: result.items,
    rowGroups: result.rowGroups,
    seconds: +result.seconds.toFixed(3),
  });
  await writeFile(path, `${line}\n`).catch((err: unknown) => {
    process.stdout.write(`could not write the termination message to ${path}: ${(err as Error).message}\n`);
  });
}

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

const list = (text: string | undefined) => (text ? text.split(',').filter((s) => s !== '') : undefined);

async function shard(values: Record<string, string | undefined>): Promise<void> {
  const version = need(values, 'version');
  assertVersion(version);
  const shards = count(need(values, 'shards'), '--shards');
  const store = openStore(need(values, 'prefix'));
  const index = count(
    values.index ?? process.env.JOB_COMPLETION_INDEX ?? '',
    '--index / JOB_COMPLETION_INDEX',
  );
  if (index >= shards) throw new Error(`--index ${index} is not below --shards ${shards}`);
  const key = stagedPart(version, index);
  const scratch = await mkdtemp(join(tmpdir(), 'lightrank-embed-'));
  try {
    let itemModel = values['item-model'];
    if (!itemModel) {
      itemModel = await fetchItemTower(
        need(values, 'item-tower-uri'),
        need(values, 'item-tower-sha256'),
        join(scratch, 'item.onnx'),
      );
    }
    stop.signal.throwIfAborted();
    const meta = parseTowerMetadata(await readFile(itemModel));
    const catalogue = need(values, 'catalogue');
    const uri = /^[a-z][a-z0-9+.-]*:\/\//i.test(catalogue) ? catalogue : pathToFileURL(catalogue).href;
    const files = await listCatalogue(uri, list(values.files));
    // a manifest left by an earlier try must not vouch for the files this one overwrites
    await store.remove(`${key}/${MANIFEST_FILE}`);
    const partDir = store.localPath?.(key) ?? join(scratch, 'part');
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
      partDir,
      version,
      signal: stop.signal,
      ...(values.fingerprint ? { expectedFingerprint: values.fingerprint } : {}),
      ...(values.threads ? { threads: count(values.threads, '--threads') || 1 } : {}),
    });
    if (!store.localPath) {
      // the part's files, then its manifest: a part without one is not complete
      for (const name of [IDS_FILE, EMBEDDINGS_FILE, MANIFEST_FILE]) {
        stop.signal.throwIfAborted();
        await store.upload(join(partDir, name), `${key}/${name}`, stop.signal);
      }
    }
    await report({ items: result.rows, rowGroups: result.rowGroups, seconds: result.seconds });
    process.stdout.write(
      `shard ${index}/${shards}: ${result.rows} items from ${result.rowGroups} row groups in ${result.seconds.toFixed(1)} s to ${store.where(key)}\n`,
    );
  } finally {
    store.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

async function publish(values: Record<string, string | undefined>): Promise<void> {
  const version = need(values, 'version');
  const shards = count(need(values, 'shards'), '--shards');
  const fingerprint = need(values, 'fingerprint');
  const store = openStore(need(values, 'prefix'));
  try {
    const m = await publishParts({ store, version, shards, fingerprint, signal: stop.signal });
    process.stdout.write(`published ${m.snapshotVersion}: ${m.rows} items from ${shards} parts\n`);
    // LATEST has moved: the staging folder is litter now, and failing to remove it fails nothing
    await store.removeAll(`${STAGING}/${version}`).catch((err: unknown) => {
      process.stdout.write(
        `could not remove ${store.where(`${STAGING}/${version}`)}: ${(err as Error).message}\n`,
      );
    });
    // and so are the parts of builds that started before this one and never published
    // (staging-gc.ts); again, failing to remove them fails nothing
    const stale = await removeStaleStaging(store, version).catch((err: unknown) => ({
      removed: [],
      failed: [{ version: '*', error: (err as Error).message }],
    }));
    for (const v of stale.removed)
      process.stdout.write(`removed ${store.where(`${STAGING}/${v}`)}: a build that never published\n`);
    for (const f of stale.failed)
      process.stdout.write(`could not remove ${store.where(`${STAGING}/${f.version}`)}: ${f.error}\n`);
  } finally {
    store.close();
  }
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

main(process.argv.slice(2)).then(
  // the signal handlers keep no work alive; exit now rather than wait for idle sockets
  () => process.exit(0),
  (err: unknown) => {
    const stopped = stop.signal.aborted ? (stop.signal.reason as StoppedError) : undefined;
    if (stopped) {
      process.stderr.write(`embed: ${stopped.message}: nothing of this run is left looking complete\n`);
      process.exit(128 + constants.signals[stopped.signal]);
    }
    process.stderr.write(`embed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof BuildInputError ? EXIT_BAD_INPUT : EXIT_RETRYABLE);
  },
);
