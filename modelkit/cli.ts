// Command line of the model kit (`npm run modelkit -- <command>` or `npx tsx modelkit/cli.ts`):
//   towers   --out DIR [--seed N] [--config FILE.json]      query.onnx, item.onnx, model.json into DIR
//   snapshot --item-model FILE --prefix DIR --version V [--items N] [--seed N]
//            [--dtype float32|float16] [--batch N] [--no-latest]
//                                                           runs the item tower over a generated catalogue
//   demo     --out DIR [--items N] [--seed N] [--version V] [--dtype float32|float16]
//                                                           both of the above, storage layout (see bundle.ts)
// Prints a JSON summary on stdout; exits 2 on bad usage, 1 on failure.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { EmbeddingDtype } from '../snapshot/format.js';
import { buildDemoBundle, buildItemSnapshot, buildTowers } from './bundle.js';
import { modelConfig, type ModelKitOverrides } from './config.js';

const USAGE = `usage:
  modelkit towers   --out DIR [--seed N] [--config FILE.json]
  modelkit snapshot --item-model FILE --prefix DIR --version V [--items N] [--seed N] [--dtype float32|float16] [--batch N] [--no-latest]
  modelkit demo     --out DIR [--items N] [--seed N] [--version V] [--dtype float32|float16]`;

class UsageError extends Error {}

function count(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} ${value} is not a non-negative integer`);
  return n;
}

function required(name: string, value: string | undefined): string {
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

function dtype(value: string | undefined): EmbeddingDtype {
  if (value === undefined) return 'float32';
  if (value !== 'float32' && value !== 'float16')
    throw new UsageError(`--dtype ${value}: float32 or float16`);
  return value;
}

async function main(argv: string[]): Promise<unknown> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      out: { type: 'string' },
      seed: { type: 'string' },
      config: { type: 'string' },
      'item-model': { type: 'string' },
      prefix: { type: 'string' },
      version: { type: 'string' },
      items: { type: 'string' },
      dtype: { type: 'string' },
      batch: { type: 'string' },
      'no-latest': { type: 'boolean' },
    },
  });
  const seed = count('seed', values.seed, 42);
  switch (command) {
    case 'towers': {
      const overrides = values.config
        ? (JSON.parse(await readFile(values.config, 'utf8')) as ModelKitOverrides)
        : {};
      const config = modelConfig({ seed, ...overrides });
      const t = await buildTowers({ dir: required('out', values.out), config });
      return {
        queryModel: t.queryModel,
        itemModel: t.itemModel,
        fingerprint: t.fingerprint,
        sha256: t.querySha256,
      };
    }
    case 'snapshot': {
      const manifest = await buildItemSnapshot({
        itemModel: required('item-model', values['item-model']),
        prefix: required('prefix', values.prefix),
        version: required('version', values.version),
        items: count('items', values.items, 10_000),
        seed,
        dtype: dtype(values.dtype),
        batchSize: count('batch', values.batch, 2048) || 2048,
        latest: !values['no-latest'],
      });
      return manifest;
    }
    case 'demo': {
      const b = await buildDemoBundle({
        dir: required('out', values.out),
        items: count('items', values.items, 10_000),
        seed,
        version: values.version ?? 'v1',
        dtype: dtype(values.dtype),
      });
      return {
        queryModel: b.queryModel,
        itemModel: b.itemModel,
        sha256: b.querySha256,
        fingerprint: b.fingerprint,
        snapshotPrefix: b.snapshotPrefix,
        snapshotDir: b.snapshotDir,
        rows: b.manifest.rows,
      };
    }
    default:
      throw new UsageError(command ? `unknown command ${command}` : 'no command');
  }
}

main(process.argv.slice(2)).then(
  (summary) => process.stdout.write(JSON.stringify(summary, null, 2) + '\n'),
  (e: unknown) => {
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`modelkit: ${(e as Error).message}\n${usage ? USAGE + '\n' : ''}`);
    process.exitCode = usage ? 2 : 1;
  },
);
