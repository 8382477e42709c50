// What a sync sidecar process (`node dist/sidecar/main.js`, build first: `npm run build`) holds in
// memory once it has synced a small model and snapshot from file:// storage and idles, polling LATEST,
// then after it synced a larger snapshot v2 (--rows × 2 tasks × --dim float32): the same figures as
// bench/router-memory.ts (bench/lib/process-memory.ts), beside a bare Node process. Outside a
// cluster it builds no Event or pod-annotation reporter; what it imports for them is loaded all the
// same (static imports), which is what the idle figure shows.
//   npm run bench:sidecar-memory -- [--rows 200000] [--dim 64]
import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeLatest } from '../snapshot/writer.js';
import { writeLargeSnapshot, writeModel, writeSnapshotVersion } from '../test/sidecar/helpers/fixtures.js';
import {
  freePort,
  printSamples,
  sample,
  sampleBareNode,
  startMeasured,
  waitReady,
  type Sample,
} from './lib/process-memory.js';

const { values: args } = parseArgs({
  options: { rows: { type: 'string', default: '200000' }, dim: { type: 'string', default: '64' } },
});
const rows = Number(args.rows);
const dim = Number(args.dim);
if (!Number.isInteger(rows) || rows < 1) throw new Error(`--rows ${args.rows}: want an integer >= 1`);
if (!Number.isInteger(dim) || dim < 1) throw new Error(`--dim ${args.dim}: want an integer >= 1`);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sidecar-memory-'));
  let sidecar: ReturnType<typeof startMeasured> | undefined;
  try {
    const model = await writeModel(join(dir, 'storage', 'models'));
    const snap = join(dir, 'storage', 'snap');
    await writeSnapshotVersion(snap, 'v1', model.fingerprint);
    await writeLatest(snap, 'v1');
    const results: Record<string, Sample> = {};
    results['bare node'] = await sampleBareNode(join(dir, 'bare.json'));
    const port = await freePort();
    const report = join(dir, 'sidecar.json');
    sidecar = startMeasured(['dist/sidecar/main.js'], {
      MEMORY_REPORT: report,
      LOG_LEVEL: 'warn',
      LIGHTRANK_HOST: '127.0.0.1',
      LIGHTRANK_PORT: String(port),
      LIGHTRANK_DATA_DIR: join(dir, 'data'),
      LIGHTRANK_MODEL_URI: pathToFileURL(model.file).href,
      LIGHTRANK_MODEL_SHA256: model.sha256,
      LIGHTRANK_MODEL_VERSION: 'm1',
      LIGHTRANK_TOWER_FINGERPRINT: model.fingerprint,
      LIGHTRANK_SNAPSHOT_URI: pathToFileURL(snap).href,
      LIGHTRANK_SNAPSHOT_POLL_SECONDS: '1',
    });
    await waitReady(`http://127.0.0.1:${port}/readyz`);
    await new Promise((r) => setTimeout(r, 3000));
    results['sidecar idle (synced, polling)'] = await sample(sidecar, report);
    // the model's fingerprint is not checked against a snapshot of another width: v2 carries it too
    await writeLargeSnapshot(snap, 'v2', model.fingerprint, rows, dim);
    await writeLatest(snap, 'v2');
    const current = join(dir, 'data', 'snapshot', 'current');
    const until = Date.now() + 120_000;
    while (!(await readlink(current).catch(() => '')).includes('v2')) {
      if (Date.now() > until) throw new Error(`v2 not synced within 120 s (${current})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    results[`sidecar after syncing v2 (${rows} rows × 2 × ${dim} float32)`] = await sample(sidecar, report);
    process.stdout.write(`node ${process.version}\n`);
    printSamples(results);
  } finally {
    if (sidecar?.exitCode === null) sidecar.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
