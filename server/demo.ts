// Demo mode: with no model to serve, build the model kit's demo model and snapshot (reference
// MMoE-DCN towers, seeded; 10,000 items) and publish them into a temporary data dir in the
// shared-volume layout, so `npm run server` serves something out of the box.
//
// API: prepareDemoDataDir(opts?: { items?: number; dir?: string }) → Promise<{ root, dataDir }>
//   root: the directory to remove when done (everything is under it)
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDemoBundle } from '../modelkit/bundle.js';
import { publishModel, publishSnapshot } from './volume.js';

export async function prepareDemoDataDir(
  opts: { items?: number; dir?: string } = {},
): Promise<{ root: string; dataDir: string }> {
  const root = opts.dir ?? (await mkdtemp(join(tmpdir(), 'lightrank-demo-')));
  const bundle = await buildDemoBundle({ dir: join(root, 'build'), items: opts.items ?? 10_000 });
  const dataDir = join(root, 'data');
  const version = `demo-${bundle.config.seed}`;
  await publishModel(dataDir, version, {
    onnxPath: bundle.queryModel,
    modelJson: { version, sha256: bundle.querySha256, towerFingerprint: bundle.fingerprint },
  });
  await publishSnapshot(dataDir, bundle.manifest.snapshotVersion, bundle.snapshotDir);
  return { root, dataDir };
}
