import { lstat, mkdir, mkdtemp, readdir, readlink, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VolumeKind } from './volume.js';

describe('VolumeKind', () => {
  let root: string;
  let vol: VolumeKind;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'lightrank-volume-'));
    vol = new VolumeKind(root, 'snapshot');
    await vol.init();
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  const publish = async (version: string, ageSeconds = 0) => {
    const tmp = await vol.makeTemp(version);
    await writeFile(path.join(tmp, 'data'), version);
    await vol.publish(tmp, version);
    const t = Date.now() / 1000 - ageSeconds;
    await utimes(path.join(vol.dir, version), t, t);
  };
  const listing = async () => (await readdir(vol.dir)).sort();

  it('renames a temp folder into place and points current at it with a symlink', async () => {
    expect(await vol.current()).toBeUndefined();
    await publish('v1');
    expect(await readlink(path.join(vol.dir, 'current'))).toBe('v1');
    expect((await lstat(path.join(vol.dir, 'current'))).isSymbolicLink()).toBe(true);
    expect(await listing()).toEqual(['current', 'v1']);
    await publish('v2');
    expect(await vol.current()).toBe('v2');
    expect(await listing()).toEqual(['current', 'v1', 'v2']);
  });

  it('removes temp leftovers of an earlier run at init, and discards a temp folder', async () => {
    await mkdir(path.join(vol.dir, '.tmp-v9-deadbeef'));
    await writeFile(path.join(vol.dir, '.tmp-link-1'), '');
    const tmp = await vol.makeTemp('v3');
    await new VolumeKind(root, 'snapshot').init();
    expect(await listing()).toEqual([]);
    await vol.discard(tmp); // already gone: no error
  });

  it('prunes beyond keep, oldest first, never current nor previous', async () => {
    await publish('v1', 50);
    await publish('v2', 40);
    await publish('v3', 30);
    await publish('v4', 20);
    expect(await vol.prune(2)).toEqual(['v2', 'v1']);
    expect(await listing()).toEqual(['current', 'v3', 'v4']);

    // current = an old version (a rollback): it and the previous one survive even when oldest.
    await publish('v5', 10);
    const tmp = await vol.makeTemp('v0');
    await vol.publish(tmp, 'v0');
    await utimes(path.join(vol.dir, 'v0'), 1, 1);
    expect(await vol.current()).toBe('v0');
    expect((await vol.prune(2)).sort()).toEqual(['v3']);
    expect(await listing()).toEqual(['current', 'v0', 'v4', 'v5']);

    // A version the server reports serving is kept too.
    await publish('v6', 5);
    expect(await vol.prune(1, ['v4'])).toEqual(['v5']);
    expect(await listing()).toEqual(['current', 'v0', 'v4', 'v6']);
  });

  it('replaces a stale folder of the same version but never the current one', async () => {
    await mkdir(path.join(vol.dir, 'v2'));
    await writeFile(path.join(vol.dir, 'v2', 'partial'), 'left by a crash');
    await publish('v2');
    expect(await readdir(path.join(vol.dir, 'v2'))).toEqual(['data']);
    const tmp = await vol.makeTemp('v2');
    await expect(vol.publish(tmp, 'v2')).rejects.toThrow(/v2 is current/);
  });
});
