// Publishes a model or snapshot version into the shared-volume layout the server reads
// (docs/internals.md "The shared volume"): files are copied into `<kind>/.tmp-*`, renamed to
// `<kind>/<version>`, then `<kind>/current` is swapped by renaming a fresh symlink over it.
// The sync sidecar owns this job in a pod; the server uses it for its demo mode, and tests and
// the benchmark use it to stage versions.
//
// API:
//   publishModel(dataDir, version, { onnxPath, modelJson }) → Promise<string>   the version dir
//   publishSnapshot(dataDir, version, snapshotDir) → Promise<string>
//   pointTo(dataDir, kind, version) → Promise<void>     flip `current` to an existing version
import { copyFile, mkdir, mkdtemp, readdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type VolumeKind = 'model' | 'snapshot';

export async function pointTo(dataDir: string, kind: VolumeKind, version: string): Promise<void> {
  const tmp = join(dataDir, kind, `.tmp-current-${process.pid}-${Date.now()}`);
  await symlink(version, tmp);
  await rename(tmp, join(dataDir, kind, 'current'));
}

async function stage(
  dataDir: string,
  kind: VolumeKind,
  version: string,
  fill: (tmp: string) => Promise<void>,
): Promise<string> {
  await mkdir(join(dataDir, kind), { recursive: true });
  const tmp = await mkdtemp(join(dataDir, kind, '.tmp-'));
  await fill(tmp);
  const dir = join(dataDir, kind, version);
  await rename(tmp, dir);
  await pointTo(dataDir, kind, version);
  return dir;
}

export function publishModel(
  dataDir: string,
  version: string,
  files: { onnxPath: string; modelJson: { version: string; sha256: string; towerFingerprint: string } },
): Promise<string> {
  return stage(dataDir, 'model', version, async (tmp) => {
    await copyFile(files.onnxPath, join(tmp, 'model.onnx'));
    await writeFile(join(tmp, 'model.json'), JSON.stringify(files.modelJson, null, 2));
  });
}

export function publishSnapshot(dataDir: string, version: string, snapshotDir: string): Promise<string> {
  return stage(dataDir, 'snapshot', version, async (tmp) => {
    for (const name of await readdir(snapshotDir)) await copyFile(join(snapshotDir, name), join(tmp, name));
  });
}
