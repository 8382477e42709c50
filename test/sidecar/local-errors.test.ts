// End to end: the shared volume refuses writes. Disk full is a real 1 MiB tmpfs mounted as the
// volume: a version larger than its free space is refused before a byte is fetched (`too_large`),
// and a disk that fills up during a download (the storage server holds the body half-way while
// the test fills the volume) is a write error naming the path (`disk_full`); permission denied
// is a real EACCES, the sidecar running as the unprivileged `nobody` user (root would bypass file
// modes). Both need root to set up (mount, setuid) and are skipped otherwise. Expected: a clear
// error naming the path, the old version kept and serving, temp files removed, and recovery once
// the volume takes writes again.
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLatest, writeModel, writeSnapshotVersion, type ModelFixture } from './helpers/fixtures.js';
import { HostileStorage, misbehave } from './helpers/hostile-storage.js';
import { RepoProcess, waitFor } from './helpers/processes.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

function tryMountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('sidecar on a volume that refuses writes', () => {
  let work: string;
  let storage: string;
  let model: ModelFixture;
  const sidecars: RepoProcess[] = [];
  let http: HostileStorage;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'lightrank-sidecar-local-'));
    storage = path.join(work, 'storage');
    model = await writeModel(path.join(storage, 'models'));
    await writeSnapshotVersion(path.join(storage, 'snap'), 'v1', model.fingerprint);
    await writeLatest(path.join(storage, 'snap'), 'v1');
    http = new HostileStorage(storage);
    await http.start();
  });

  afterAll(async () => {
    for (const s of sidecars) await s.stop();
    await http?.stop();
    if (!work) return;
    try {
      execFileSync('umount', [path.join(work, 'tmpfs')], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
    await rm(work, { recursive: true, force: true });
  });

  const start = async (dataDir: string, user?: { uid: number; gid: number }, base?: string) => {
    const uri = (p: string) => (base ? `${base}/${p}` : pathToFileURL(path.join(storage, p)).href);
    const sidecar = await RepoProcess.sidecar(
      {
        LIGHTRANK_DATA_DIR: dataDir,
        LIGHTRANK_MODEL_URI: uri('models/model.onnx'),
        LIGHTRANK_MODEL_SHA256: model.sha256,
        LIGHTRANK_MODEL_VERSION: 'm1',
        LIGHTRANK_TOWER_FINGERPRINT: model.fingerprint,
        LIGHTRANK_SNAPSHOT_URI: uri('snap'),
        LIGHTRANK_SNAPSHOT_POLL_SECONDS: '0.1',
        LIGHTRANK_SYNC_BACKOFF_BASE_SECONDS: '0.1',
        LIGHTRANK_SYNC_BACKOFF_MAX_SECONDS: '0.4',
        ...(user ? { HOME: work } : {}),
      },
      user,
    );
    sidecars.push(sidecar);
    await waitFor('ready on v1', () => sidecar.ready());
    return sidecar;
  };
  const current = (dataDir: string) => readlink(path.join(dataDir, 'snapshot/current'));
  const leftovers = async (dataDir: string) =>
    (await readdir(path.join(dataDir, 'snapshot'))).filter((e) => e.startsWith('.tmp-'));

  it.skipIf(!isRoot)(
    'disk full: a version too large is refused unread; a disk that fills mid-download names the path; v1 kept; recovers',
    async () => {
      const dataDir = path.join(work, 'tmpfs');
      await mkdir(dataDir);
      if (!tryMountTmpfs(dataDir, '1m')) {
        console.warn('skipped: mount -t tmpfs is not permitted here');
        return;
      }
      const snap = path.join(storage, 'snap');
      const sidecar = await start(dataDir, undefined, http.url);
      // 20000 rows × 2 tasks × 8 dims × 4 bytes = 1.28 MB: more than the 1 MiB volume holds.
      await writeSnapshotVersion(snap, 'v2-big', model.fingerprint, 20_000);
      await writeLatest(snap, 'v2-big');
      await waitFor(
        'too_large refusal',
        async () =>
          (await sidecar.metric('lightrank_sidecar_sync_failures_total', {
            kind: 'snapshot',
            cause: 'too_large',
          })) > 0,
      );
      const refusal = sidecar.logs.find((l) => l.cause === 'too_large')!;
      expect(refusal.err).toMatch(/v2-big: its \d+ bytes do not fit the \d+ bytes free on the volume/);
      expect(http.requests.filter((r) => r.path.startsWith('/snap/v2-big/')).map((r) => r.path)).toEqual([
        '/snap/v2-big/manifest.json',
      ]);
      expect(await current(dataDir)).toBe('v1');

      // 8000 rows: 512 KB fits the free space; the test fills the volume while the body is held.
      await writeSnapshotVersion(snap, 'v3', model.fingerprint, 8_000, 100_000);
      const gate = misbehave.gated(64 * 1024);
      http.on('/snap/v3/embeddings.bin', gate);
      await writeLatest(snap, 'v3');
      await gate.reached;
      const filler = path.join(dataDir, 'filler');
      await writeFile(filler, Buffer.alloc(1 << 20)).catch(() => undefined); // as much as fits
      gate.release();
      await waitFor(
        'disk_full failure',
        async () =>
          (await sidecar.metric('lightrank_sidecar_sync_failures_total', {
            kind: 'snapshot',
            cause: 'disk_full',
          })) > 0,
      );
      const line = sidecar.logs.find((l) => l.cause === 'disk_full')!;
      expect(line.err).toMatch(
        /cannot write .*\/snapshot\/\.tmp-v3-[0-9a-f]+\/embeddings\.bin: no space left on device \(ENOSPC\)/,
      );
      expect(line.path).toContain(path.join(dataDir, 'snapshot'));
      expect(await current(dataDir)).toBe('v1');
      expect(await sidecar.ready()).toBe(true);
      await waitFor('temp files removed', async () => (await leftovers(dataDir)).length === 0);

      http.clear();
      await rm(filler);
      await waitFor('current = v3', async () => (await current(dataDir)) === 'v3');
      expect(await leftovers(dataDir)).toEqual([]);
    },
  );

  it.skipIf(!isRoot)('permission denied: names the path, keeps the old version, recovers', async () => {
    const dataDir = path.join(work, 'volume-nobody');
    await mkdir(dataDir);
    await chown(dataDir, NOBODY, NOBODY);
    await chown(work, NOBODY, NOBODY); // HOME for tsx's cache
    await writeLatest(path.join(storage, 'snap'), 'v1');
    const sidecar = await start(dataDir, { uid: NOBODY, gid: NOBODY });
    await chmod(path.join(dataDir, 'snapshot'), 0o555);
    await writeSnapshotVersion(path.join(storage, 'snap'), 'v4', model.fingerprint, 16, 900);
    await writeLatest(path.join(storage, 'snap'), 'v4');
    await waitFor(
      'permission_denied failure',
      async () =>
        (await sidecar.metric('lightrank_sidecar_sync_failures_total', {
          kind: 'snapshot',
          cause: 'permission_denied',
        })) > 0,
    );
    const line = sidecar.logs.find((l) => l.cause === 'permission_denied')!;
    expect(line.err).toMatch(/cannot create .*\/snapshot\/\.tmp-v4-[0-9a-f]+: permission denied \(EACCES\)/);
    expect(await current(dataDir)).toBe('v1');
    expect(await sidecar.ready()).toBe(true);

    await chmod(path.join(dataDir, 'snapshot'), 0o755);
    await waitFor('current = v4', async () => (await current(dataDir)) === 'v4');
    expect(await leftovers(dataDir)).toEqual([]);
  });
});
