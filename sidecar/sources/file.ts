// `file://` source: a directory on a local or mounted file system (a PVC, a hostPath, tests).
// The entity tag is derived from size and modification time, as static web servers do.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SourceError } from '../errors.js';
import type { GetOptions, GetResult, Source } from './source.js';

export class FileSource implements Source {
  private readonly root: string;

  constructor(readonly uri: string) {
    this.root = fileURLToPath(uri);
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const file = path.join(this.root, ...key.split('/'));
    let info;
    try {
      info = await stat(file);
    } catch (err) {
      throw toSourceError(err, file);
    }
    if (!info.isFile()) throw new SourceError('not_found', `${file} is not a regular file`);
    const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    if (options.ifNoneMatch === etag) return { notModified: true };
    return { notModified: false, body: createReadStream(file), etag, size: info.size };
  }

  close(): void {}
}

function toSourceError(err: unknown, file: string): SourceError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new SourceError('not_found', `${file} does not exist`);
  if (code === 'EACCES' || code === 'EPERM') return new SourceError('denied', `${file}: permission denied`);
  return new SourceError('unavailable', `${file}: ${(err as Error).message}`, { cause: err });
}
