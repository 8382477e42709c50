// The sidecar against a hostile file:// tree (helpers/hostile-tree.ts), in the test's process so
// its pod reports can be read (helpers/in-process.ts). Storage on a shared file system is
// writable by others: nothing in it may make the sidecar read outside the storage root. One
// sidecar serves v1 through a storage root that is itself reached through a symlink (allowed: a
// mount point often is); each case publishes a new version made hostile, points LATEST at it, and
// checks: refused with a named cause, on the pod, nothing of it downloaded, the old version still
// current and ready, no temp files left.
import { appendFile, copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDS_FILE } from '../../snapshot/index.js';
import { writeLatest, writeModel, writeSnapshotVersion, type ModelFixture } from './helpers/fixtures.js';
import {
  fifo,
  hardLink,
  listAs,
  symlinkInside,
  symlinkLatest,
  symlinkOutside,
  symlinkVersionDir,
} from './helpers/hostile-tree.js';
import { startInProcess, type InProcessSidecar } from './helpers/in-process.js';
import { waitFor } from './helpers/processes.js';

let work: string;
/** The real storage root, the symlink the sidecar is given for it, and a place outside both. */
let storage: string;
let snap: string;
let outside: string;
let model: ModelFixture;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lightrank-sidecar-hostile-file-'));
  storage = path.join(work, 'storage');
  snap = path.join(storage, 'snap');
  outside = path.join(work, 'outside');
  model = await writeModel(path.join(storage, 'models'));
  await writeSnapshotVersion(snap, 'v1', model.fingerprint);
  await writeLatest(snap, 'v1');
  await symlink(storage, path.join(work, 'mounted'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const viaMount = (p: string) => pathToFileURL(path.join(work, 'mounted', p)).href;

describe('snapshots from a hostile file tree', () => {
  let h: InProcessSidecar;
  let n = 1;

  beforeAll(async () => {
    h = await startInProcess({
      dataDir: path.join(work, 'volume'),
      model: {
        uri: viaMount('models/model.onnx'),
        sha256: model.sha256,
        version: 'm1',
        fingerprint: undefined,
      },
      snapshotUri: viaMount('snap'),
    });
    await waitFor('served v1 (through a symlinked root)', () => h.calls.includes('served v1'));
  });
  afterAll(async () => h?.stop());

  const publish = async (): Promise<string> => {
    const v = `v${++n}`;
    await writeSnapshotVersion(snap, v, model.fingerprint, 64, n * 1000);
    return v;
  };
  /** Points LATEST at `v` and expects it refused for `cause`, nothing of it downloaded. */
  const refused = async (v: string, cause: string, message: RegExp) => {
    const before = await h.downloaded();
    await writeLatest(snap, v);
    await waitFor(`${v} refused (${cause})`, () => h.calls.includes(`refused snapshot ${v} ${cause}`));
    expect(h.refusals.at(-1)).toMatch(message);
    expect(await h.downloaded()).toBe(before);
    expect(await h.current()).toBe('v1');
    expect(h.sidecar.ready).toBe(true);
    expect(await h.leftovers()).toEqual([]);
  };

  it('a listed file that is a symlink to a byte-identical file outside the root: refused (unsafe_path)', async () => {
    const v = await publish();
    await symlinkOutside(snap, v, IDS_FILE, outside); // the sha256 in the manifest still matches
    await refused(v, 'unsafe_path', /ids\.u64 is a symbolic link/);
  });

  it('a version folder that is a symlink to a folder outside the root: refused (unsafe_path)', async () => {
    const v = await publish();
    await symlinkVersionDir(snap, v, outside);
    await refused(v, 'unsafe_path', new RegExp(`snap/${v} is a symbolic link`));
  });

  it('a symlink that stays inside the root: refused too (unsafe_path)', async () => {
    const v = await publish();
    await symlinkInside(snap, v, IDS_FILE, `../v1/${IDS_FILE}`);
    await refused(v, 'unsafe_path', /is a symbolic link/);
  });

  it('a hard link to a file outside the root: refused (unsafe_path, st_nlink > 1)', async () => {
    const v = await publish();
    await hardLink(snap, v, IDS_FILE, path.join(outside, `${v}-ids`));
    await refused(v, 'unsafe_path', /has 2 hard links/);
  });

  it('a hard link between two versions inside the root: refused too (publish copies, not links)', async () => {
    const v = await publish();
    await hardLink(snap, v, IDS_FILE, path.join(snap, `${v}-shared`, IDS_FILE));
    await refused(v, 'unsafe_path', /hard links/);
  });

  it('a FIFO in place of a file: refused (unsafe_path) at once, no read blocks', async () => {
    const v = await publish();
    await fifo(snap, v, IDS_FILE);
    const t0 = performance.now();
    await refused(v, 'unsafe_path', /not a regular file/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a file name that looks like ids.u64 (Cyrillic і): refused (unsafe_path) before it is read', async () => {
    const v = await publish();
    await listAs(snap, v, IDS_FILE, '\u0456ds.u64');
    await refused(v, 'unsafe_path', /is not a plain file name/);
  });

  it('a file longer on disk than its manifest says: refused (size) before a byte is read', async () => {
    const v = await publish();
    await appendFile(path.join(snap, v, IDS_FILE), Buffer.alloc(8));
    await refused(v, 'size', /announces 520 bytes, the manifest says 512/);
  });

  it('a LATEST that is a symlink: refused (unsafe_path) on LATEST; cleared once it is a file again', async () => {
    await symlinkLatest(snap, 'v1', outside);
    await waitFor('LATEST refused', () => h.calls.includes('refused snapshot LATEST unsafe_path'));
    expect(h.refusals.at(-1)).toMatch(/LATEST is a symbolic link/);
    expect(await h.current()).toBe('v1');
    await rm(path.join(snap, 'LATEST'));
    await writeLatest(snap, 'v1');
    await waitFor('refusal cleared', () => h.calls.at(-1) === 'accepted snapshot');
  });

  it('a good version after all that: published', async () => {
    const v = await publish();
    await writeLatest(snap, v);
    await waitFor(`served ${v}`, () => h.calls.includes(`served ${v}`));
    expect(await h.current()).toBe(v);
    expect(await h.leftovers()).toEqual([]);
  });
});

describe('a model file that is a symlink', () => {
  it('is refused (unsafe_path), on the pod, and the sidecar does not turn ready', async () => {
    const models = path.join(storage, 'models-linked');
    await mkdir(models, { recursive: true });
    await mkdir(outside, { recursive: true });
    await copyFile(model.file, path.join(outside, 'model.onnx'));
    await symlink(path.join(outside, 'model.onnx'), path.join(models, 'model.onnx'));
    const h = await startInProcess({
      dataDir: path.join(work, 'volume-model'),
      model: {
        uri: viaMount('models-linked/model.onnx'),
        sha256: model.sha256,
        version: 'm1',
        fingerprint: undefined,
      },
      snapshotUri: viaMount('snap'),
    });
    try {
      await waitFor('model refused', () => h.calls.includes('refused model m1 unsafe_path'));
      expect(h.sidecar.ready).toBe(false);
      expect(await h.current('model')).toBeUndefined();
    } finally {
      await h.stop(); // the model is retried until then
    }
    expect(await h.leftovers('model')).toEqual([]);
  });
});
