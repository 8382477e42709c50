// The shared volume, one kind (`model` or `snapshot`) at a time:
//   <root>/<kind>/<version>/...      a published version, never modified after the rename
//   <root>/<kind>/current -> <version>   flipped atomically: symlink under a temp name + rename(2)
//   <root>/<kind>/.tmp-*             work in progress; removed on failure and at start-up
// Pruning keeps the newest N versions and never removes the one `current` points to, nor the
// one it pointed to before (the server may still be switching away from it), nor any the caller
// names (the ones the server reports serving).
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, rename, rm, stat, statfs, symlink } from 'node:fs/promises';
import path from 'node:path';
import { localWriteError } from './errors.js';
import { assertSafeVersion, within } from './paths.js';

export type Kind = 'model' | 'snapshot';

const TMP_PREFIX = '.tmp-';

export class VolumeKind {
  readonly dir: string;
  private previous: string | undefined;

  constructor(
    root: string,
    readonly kind: Kind,
  ) {
    this.dir = path.join(root, kind);
  }

  /** Creates the kind's folder and removes temp leftovers of an earlier run. */
  async init(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
      for (const name of await readdir(this.dir)) {
        if (name.startsWith(TMP_PREFIX))
          await rm(path.join(this.dir, name), { recursive: true, force: true });
      }
    } catch (err) {
      throw localWriteError(err, this.dir, 'prepare');
    }
  }

  /** The version `current` points to, or undefined before the first publish. */
  async current(): Promise<string | undefined> {
    try {
      return path.basename(await readlink(path.join(this.dir, 'current')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** True when `<kind>/<version>` is a published version folder. */
  async has(version: string): Promise<boolean> {
    try {
      const info = await lstat(within(this.dir, version));
      return info.isDirectory();
    } catch {
      return false;
    }
  }

  /** Bytes an unprivileged writer may still use on the volume (statfs); undefined when unknown. */
  async freeBytes(): Promise<number | undefined> {
    try {
      const fs = await statfs(this.dir);
      return fs.bavail * fs.bsize;
    } catch {
      return undefined;
    }
  }

  /** A fresh temp folder to download a version into. */
  async makeTemp(version: string): Promise<string> {
    const tmp = within(this.dir, `${TMP_PREFIX}${version}-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(tmp);
    } catch (err) {
      throw localWriteError(err, tmp, 'create');
    }
    return tmp;
  }

  /** Removes a temp folder (after a failure); never throws. */
  async discard(tmp: string): Promise<void> {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }

  /**
   * Renames a verified temp folder to `<kind>/<version>` and points `current` at it. A folder of
   * the same version left by an earlier run is replaced; the current version never is (callers
   * check first: a published version is immutable while it may be in use).
   */
  async publish(tmp: string, version: string): Promise<void> {
    assertSafeVersion(version, `${this.kind} publish`);
    const target = within(this.dir, version);
    const before = await this.current();
    if (before === version) throw new Error(`${this.kind} ${version} is current: it cannot be replaced`);
    try {
      if (await this.has(version)) {
        const stale = within(this.dir, `${TMP_PREFIX}stale-${version}-${randomBytes(4).toString('hex')}`);
        await rename(target, stale);
        await rm(stale, { recursive: true, force: true });
      }
      await rename(tmp, target);
    } catch (err) {
      throw localWriteError(err, target, 'publish');
    }
    await this.pointCurrentAt(version);
    if (before !== undefined) this.previous = before;
  }

  /** Atomically replaces `current` with a symlink to `version`. */
  private async pointCurrentAt(version: string): Promise<void> {
    const link = within(this.dir, `${TMP_PREFIX}link-${randomBytes(4).toString('hex')}`);
    const current = path.join(this.dir, 'current');
    try {
      await symlink(version, link);
      await rename(link, current);
    } catch (err) {
      await rm(link, { force: true }).catch(() => undefined);
      throw localWriteError(err, current, 'update');
    }
  }

  /**
   * Removes old versions beyond the newest `keep` (by modification time), never the current
   * one, the previous one, nor any in `protect`. Returns the versions removed.
   */
  async prune(keep: number, protect: Iterable<string> = []): Promise<string[]> {
    const current = await this.current();
    const keepSet = new Set([
      ...protect,
      ...(current ? [current] : []),
      ...(this.previous ? [this.previous] : []),
    ]);
    const versions: { name: string; mtime: number }[] = [];
    for (const entry of await readdir(this.dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith(TMP_PREFIX)) continue;
      versions.push({ name: entry.name, mtime: (await stat(path.join(this.dir, entry.name))).mtimeMs });
    }
    versions.sort((a, b) => b.mtime - a.mtime);
    const removed: string[] = [];
    for (const [i, v] of versions.entries()) {
      if (i < keep || keepSet.has(v.name)) continue;
      await rm(path.join(this.dir, v.name), { recursive: true, force: true });
      removed.push(v.name);
    }
    return removed;
  }
}
