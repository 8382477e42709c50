// Streams one object from a source to a local file with bounded memory: the bytes pass through
// an incremental sha256 on their way to disk, and a size limit stops an object that is larger
// than announced. Small objects (LATEST, manifests) are read into memory under a hard cap.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LocalWriteError, RefusedError, SourceError, localWriteError } from './errors.js';
import type { GetResult, Source } from './sources/index.js';

export interface Downloaded {
  bytes: number;
  sha256: string;
  etag: string | undefined;
}

export interface DownloadOptions {
  /** Refuse (`truncated`) an object that ends before, or runs past, this many bytes. */
  expectedBytes?: number;
  /** Called with each chunk's length, for the bytes-downloaded metric. */
  onBytes?: (n: number) => void;
}

/** Downloads `key` into `dest` (created, must not exist); returns its length and sha256 (hex). */
export async function downloadToFile(
  source: Source,
  key: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<Downloaded> {
  const res = await source.get(key);
  if (res.notModified) throw new SourceError('unavailable', `${source.uri}/${key}: unexpected 304`);
  const hash = createHash('sha256');
  let bytes = 0;
  const limit = options.expectedBytes;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (limit !== undefined && bytes > limit) {
        done(new RefusedError('truncated', `${source.uri}/${key}: longer than the ${limit} bytes announced`));
        return;
      }
      hash.update(chunk);
      options.onBytes?.(chunk.length);
      done(null, chunk);
    },
  });
  const out = createWriteStream(dest, { flags: 'wx' });
  try {
    await pipeline(res.body, meter, out);
  } catch (err) {
    if (err instanceof RefusedError) throw err;
    if (isFileSystemError(err)) throw localWriteError(err, dest, 'write');
    throw new SourceError(
      'unavailable',
      `${source.uri}/${key}: download broke off: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (limit !== undefined && bytes < limit) {
    throw new RefusedError('truncated', `${source.uri}/${key}: ${bytes} bytes, the manifest says ${limit}`);
  }
  return { bytes, sha256: hash.digest('hex'), etag: res.etag };
}

/** An error of opening or writing the local file, as opposed to one of reading the source. */
function isFileSystemError(err: unknown): boolean {
  const syscall = (err as NodeJS.ErrnoException | undefined)?.syscall;
  return syscall === 'open' || syscall === 'write' || syscall === 'close' || syscall === 'fsync';
}

export type SmallObject =
  { notModified: true } | { notModified: false; data: Buffer; etag: string | undefined };

/** Reads a small object (a pointer, a manifest) into memory; refuses one over `maxBytes`. */
export async function fetchSmall(
  source: Source,
  key: string,
  maxBytes: number,
  ifNoneMatch?: string,
): Promise<SmallObject> {
  const res: GetResult = await source.get(key, { ifNoneMatch });
  if (res.notModified) return res;
  return {
    notModified: false,
    data: await readCapped(res.body, maxBytes, `${source.uri}/${key}`),
    etag: res.etag,
  };
}

async function readCapped(body: Readable, maxBytes: number, where: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) {
        body.destroy();
        throw new RefusedError('manifest', `${where}: larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof RefusedError || err instanceof LocalWriteError) throw err;
    throw new SourceError('unavailable', `${where}: read broke off: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return Buffer.concat(chunks);
}
