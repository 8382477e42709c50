// Which staged builds a publish removes (staging-gc.ts), and the removal on a file store: the
// operator's versions that started before the one published; never a later one, never a
// hand-named one, never one when the published version is hand-named. (On S3: embed/main.test.ts.)
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeStaleStaging, staleStagingVersions } from './staging-gc.js';
import { openStore } from './store.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-staging-gc-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const A = '20261205T235959Z-0123abcd';
const B = '20261206T000000Z-ffffffff';
const C = '20261206T000001Z-00000000';

describe('staleStagingVersions', () => {
  it("picks the operator's versions that sort before the published one", () => {
    expect(staleStagingVersions([C, 'v1', B, A, 'tmp', '20261206T000000Z-zz'], C)).toEqual([A, B]);
    expect(staleStagingVersions([A, B, C], B)).toEqual([A]);
    expect(staleStagingVersions([A, B, C], A)).toEqual([]);
  });
  it('removes nothing when the published version is not named the operator’s way', () => {
    expect(staleStagingVersions([A, B], 'v9')).toEqual([]);
    expect(staleStagingVersions([A, B], 'zzzz')).toEqual([]);
  });
});

describe('removeStaleStaging on a file store', () => {
  it('removes the earlier builds’ folders, keeps the rest; a missing .staging is no error', async () => {
    const prefix = join(root, 'snapshots');
    const store = openStore(prefix);
    expect(await removeStaleStaging(store, C)).toEqual({ removed: [], failed: [] });
    for (const v of [A, B, C, 'by-hand']) {
      await mkdir(join(prefix, '.staging', v, 'part-00000'), { recursive: true });
      await writeFile(join(prefix, '.staging', v, 'part-00000', 'ids.u64'), 'x');
    }
    await writeFile(join(prefix, '.staging', 'a-file'), 'x');
    expect(await removeStaleStaging(store, B)).toEqual({ removed: [A], failed: [] });
    expect((await readdir(join(prefix, '.staging'))).sort()).toEqual([B, C, 'a-file', 'by-hand'].sort());
  });
});
