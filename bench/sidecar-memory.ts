// What a sync sidecar process (`node dist/sidecar/main.js`, build first: `npm run build`) holds in
// memory once it has synced a small model and snapshot from file:// storage and idles, polling LATEST:
// the same figures as bench/router-memory.ts (bench/lib/process-memory.ts), beside a bare Node
// process. Outside a cluster it builds no Event or pod-annotation reporter; what it imports for them
// is loaded all the same (static imports), which is what this measures.
//   npm run bench:sidecar-memory
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeLatest } from '../snapshot/writer.js';
import { writeModel, writeSnapshotVersion } from '../test/sidecar/helpers/fixtures.js';
import {
  freePort,
  printSamples,
  sample,
  sampleBareNode,
  startMeasured,
  waitReady,
  type Sample,
} from './lib/process-memory.js';

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
