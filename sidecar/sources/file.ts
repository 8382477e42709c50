// `file://` source: a directory on a local or mounted file system (a PVC, a hostPath, tests).
// The entity tag is derived from size and modification time, as static web servers do.
//
// Storage is untrusted (others may write to it), so a read never leaves the root:
//  - every path component under the root is lstat'ed: a symbolic link anywhere is refused, even one
//    that points inside the root (a link is how a version reaches elsewhere);
//  - the file is opened with O_NOFOLLOW (a link swapped in after the check fails to open) and
//    O_NONBLOCK (a FIFO swapped in cannot block the open);
//  - the opened descriptor must be a regular file with a single link (st_nlink = 1: a hard link's
//    other name may be outside the root, and nothing can tell where), and its real path (the
//    kernel's, from /proc/self/fd; realpath elsewhere) must lie under the root's real path.
// Each of these is a RefusedError('unsafe_path'). The root itself may be reached through links
// (a mount point, /tmp on macOS): it is resolved once it exists.
import { constants } from 'node:fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RefusedError, SourceError } from '../errors.js';
import { assertSafeKey, isUnder } from '../paths.js';
import type { GetOptions, GetResult, Source } from './source.js';

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export class FileSource implements Source {
  private readonly root: string;
  private realRoot: string | undefined;

  constructor(readonly uri: string) {
    this.root = fileURLToPath(uri);
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    assertSafeKey(key, this.uri);
    const segments = key.split('/');
    const file = path.join(this.root, ...segments);
    const root = await this.resolveRoot();
    let at = this.root;
    for (const [i, segment] of segments.entries()) {
      at = path.join(at, segment);
      let info;
      try {
        info = await lstat(at);
      } catch (err) {
        throw toSourceError(err, file);
      }
      if (info.isSymbolicLink()) throw unsafe(`${at} is a symbolic link`);
      if (i < segments.length - 1) {
        if (!info.isDirectory()) throw new SourceError('not_found', `${at} is not a directory`);
      } else if (info.isDirectory()) {
        throw new SourceError('not_found', `${file} is a directory, not a regular file`);
      } else if (!info.isFile()) {
        throw unsafe(`${file} is not a regular file (a FIFO, socket or device)`);
      }
    }

    let handle: FileHandle;
    try {
      handle = await open(file, OPEN_FLAGS);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw unsafe(`${file} is a symbolic link`);
      throw toSourceError(err, file);
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw unsafe(`${file} is not a regular file`);
      if (info.nlink > 1) {
        throw unsafe(
          `${file} has ${info.nlink} hard links: its other names may lie outside ${this.root} (publish copies, not links)`,
        );
      }
      const real = await realPathOf(handle, file);
      if (!isUnder(root, real)) throw unsafe(`${file} resolves to ${real}, outside ${root}`);
      const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
      if (options.ifNoneMatch === etag) {
        await handle.close();
        return { notModified: true };
      }
      return { notModified: false, body: handle.createReadStream(), etag, size: info.size };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  close(): void {}

  /** The root's real path (resolved once it exists). */
  private async resolveRoot(): Promise<string> {
    if (this.realRoot) return this.realRoot;
    try {
      this.realRoot = await realpath(this.root);
    } catch (err) {
      throw toSourceError(err, this.root);
    }
    return this.realRoot;
  }
}

/** Where an open descriptor really is: the kernel's name for it, else realpath of its path. */
async function realPathOf(handle: FileHandle, file: string): Promise<string> {
  try {
    return await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    return realpath(file);
  }
}

function unsafe(message: string): RefusedError {
  return new RefusedError('unsafe_path', message);
}

function toSourceError(err: unknown, file: string): SourceError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new SourceError('not_found', `${file} does not exist`);
  if (code === 'EACCES' || code === 'EPERM') return new SourceError('denied', `${file}: permission denied`);
  return new SourceError('unavailable', `${file}: ${(err as Error).message}`, { cause: err });
}
