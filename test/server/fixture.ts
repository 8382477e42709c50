// Shared vitest fixture for the server process tests: stages the model kit's demo bundle in a
// temp dir, starts the real server on it with the given flags, waits until it is ready, and
// stops it and removes the dir after the file's tests.
//
// API:
//   serveDemo(prefix, args, { loadEmbeddings? }) → ServedDemo   call at a test file's top level;
//     its fields are filled in by the beforeAll hook it registers
//   ServedDemo: { staged, server, snapshot }
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openSnapshot, type Snapshot } from '../../snapshot/index.js';
import { stageDemo, startServer, waitFor, type ServerProcess, type Staged } from './harness.js';

export interface ServedDemo {
  staged: Staged;
  server: ServerProcess;
  /** the served snapshot, opened with or without its matrix */
  snapshot: Snapshot;
}

export function serveDemo(
  prefix: string,
  args: string[],
  opts: { loadEmbeddings?: boolean } = {},
): ServedDemo {
  const demo = {} as ServedDemo;
  let root: string | undefined;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), prefix));
    demo.staged = await stageDemo(root);
    demo.snapshot = await openSnapshot(demo.staged.bundle.snapshotDir, {
      loadEmbeddings: opts.loadEmbeddings ?? true,
    });
    demo.server = await startServer(['--data-dir', demo.staged.dataDir, ...args]);
    await waitFor(
      async () => (await demo.server.get('/v2/health/ready')).status === 200,
      30_000,
      'server ready',
    );
  });
  afterAll(async () => {
    await demo.server?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });
  return demo;
}
