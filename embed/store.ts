// Where a build writes: the snapshot's own storage, a `file://` folder or an `s3://` prefix. The
// shards stage their parts under it (`.staging/<version>/part-NNNNN/`), and the publish step reads
// them back from it, writes the version beside them and moves LATEST — so a build needs no volume
// shared by its pods when its snapshot is on S3.
//
// Keys are relative to the prefix, '/'-separated, and made by this code (the version is checked
// before any key is built: assertVersion). What each store guarantees:
//  - writeText is whole or nothing: file: temp file + rename; s3: one PUT (S3 never shows a
//    partly written object).
//  - place(from, to) puts a staged file's bytes at their published name: file: a rename (no byte
//    copied; the staged name is gone, and the published file has one link, as the sidecar's
//    file source requires), a copy across file systems; s3: a server-side CopyObject (no byte
//    through the pod; the staged object stays until the staging folder is removed).
//  - upload/place on S3 are single requests up to 5 GiB (S3's limit of a PUT and a copy); a larger
//    file goes as a multipart upload (UploadPart from the file, UploadPartCopy server-side) in
//    parts of at least 64 MiB, at most 10,000 of them; a failed one is aborted.
// S3 takes its endpoint, region and credentials as the rest of lightrank does (storage.ts).
//
// API:
//   openStore(uri, s3Limits?) → SnapshotStore      uri: file://…, s3://bucket/prefix, or a local path
//     s3Limits: { singleRequestBytes, partBytes } (tests set them small)
//   assertVersion(version)                          throws unless [A-Za-z0-9][A-Za-z0-9._-]*
//   interface SnapshotStore { uri, where(key), localPath(key)?, readText(key) → string | undefined,
//     exists(key), size(key) → bytes, read(key) → AsyncIterable<Uint8Array>,
//     readRange(key, start, end) → AsyncIterable<Uint8Array> (bytes [start, end); fewer when the
//     key is shorter), upload(file, key, signal?),
//     writeText(key, text), place(from, to), remove(key), removeAll(prefixKey),
//     folders(prefixKey) → the names one level under it, close() }
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { s3Client } from './storage.js';

/** S3's limit of one PUT and of one CopyObject. */
export const S3_SINGLE_REQUEST_BYTES = 5 * 1024 ** 3;
/** The smallest part of a multipart upload this store sends (S3's own minimum is 5 MiB). */
const S3_PART_BYTES = 64 * 1024 ** 2;
/** S3's most parts in one multipart upload. */
const S3_MAX_PARTS = 10_000;

export interface S3Limits {
  /** above this a file goes in parts (default and S3's maximum: 5 GiB) */
  singleRequestBytes: number;
  /** the smallest part (default 64 MiB; at least S3's 5 MiB but for the last) */
  partBytes: number;
}

export interface SnapshotStore {
  /** the prefix, as given */
  readonly uri: string;
  /** how messages name a key: its full URI or path */
  where(key: string): string;
  /** file stores: the key's path on this machine (a shard writes its part in place) */
  localPath?(key: string): string;
  /** the key's text; undefined when it does not exist */
  readText(key: string): Promise<string | undefined>;
  /** the key's bytes, streamed */
  read(key: string): Promise<AsyncIterable<Uint8Array>>;
  /** bytes [start, end) of the key, streamed (fewer when the key is shorter; S3: a ranged GET) */
  readRange(key: string, start: number, end: number): Promise<AsyncIterable<Uint8Array>>;
  /** the key's size in bytes (it must exist) */
  size(key: string): Promise<number>;
  /** a local file to `key` */
  upload(file: string, key: string, signal?: AbortSignal): Promise<void>;
  /** `text` to `key`, whole or not at all */
  writeText(key: string, text: string): Promise<void>;
  /** whether the key exists */
  exists(key: string): Promise<boolean>;
  /** `from`'s bytes at `to` within the store: a move on file://, a server-side copy on S3 */
  place(from: string, to: string): Promise<void>;
  /** one key; nothing when it does not exist */
  remove(key: string): Promise<void>;
  /** every key under `prefixKey/` */
  removeAll(prefixKey: string): Promise<void>;
  /** the names of the folders (S3: common prefixes) right under prefixKey; none when it is not there */
  folders(prefixKey: string): Promise<string[]>;
  close(): void;
}

async function* nothing(): AsyncIterable<Uint8Array> {}

export function assertVersion(version: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(version))
    throw new Error(`version ${JSON.stringify(version)}: letters, digits, '.', '_' and '-' only`);
}

export function openStore(uri: string, s3Limits?: S3Limits): SnapshotStore {
  if (uri.startsWith('s3://')) return new S3Store(uri, s3Limits);
  if (uri.startsWith('file://')) return new FileStore(uri, fileURLToPath(uri));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri))
    throw new Error(`${uri}: a built snapshot is written to file:// or s3:// storage`);
  return new FileStore(uri, uri);
}

class FileStore implements SnapshotStore {
  constructor(
    readonly uri: string,
    private readonly root: string,
  ) {}

  where(key: string): string {
    return join(this.root, key);
  }

  localPath(key: string): string {
    return join(this.root, key);
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.root, key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async read(key: string): Promise<AsyncIterable<Uint8Array>> {
    const path = join(this.root, key);
    await stat(path); // a missing file fails here, with its path
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async readRange(key: string, start: number, end: number): Promise<AsyncIterable<Uint8Array>> {
    const path = join(this.root, key);
    await stat(path);
    if (end <= start) return nothing();
    return createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20 });
  }

  async size(key: string): Promise<number> {
    return (await stat(join(this.root, key))).size;
  }

  async upload(file: string, key: string): Promise<void> {
    const to = join(this.root, key);
    await mkdir(dirname(to), { recursive: true });
    await copyFile(file, to);
  }

  async writeText(key: string, text: string): Promise<void> {
    const to = join(this.root, key);
    await mkdir(dirname(to), { recursive: true });
    const tmp = join(dirname(to), `.${key.split('/').pop()}.tmp`);
    await writeFile(tmp, text);
    await rename(tmp, to);
  }

  async exists(key: string): Promise<boolean> {
    return stat(join(this.root, key)).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
  }

  async place(from: string, to: string): Promise<void> {
    const src = join(this.root, from);
    const dst = join(this.root, to);
    await mkdir(dirname(dst), { recursive: true });
    try {
      await rename(src, dst);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await copyFile(src, dst);
      await rm(src);
    }
  }

  async remove(key: string): Promise<void> {
    await rm(join(this.root, key), { force: true });
  }

  async removeAll(prefixKey: string): Promise<void> {
    await rm(join(this.root, prefixKey), { recursive: true, force: true });
  }

  async folders(prefixKey: string): Promise<string[]> {
    try {
      const entries = await readdir(join(this.root, prefixKey), { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => e.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  close(): void {}
}

class S3Store implements SnapshotStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(
    readonly uri: string,
    private readonly limits: S3Limits = {
      singleRequestBytes: S3_SINGLE_REQUEST_BYTES,
      partBytes: S3_PART_BYTES,
    },
  ) {
    const url = new URL(uri);
    this.bucket = url.hostname;
    if (!this.bucket) throw new Error(`${uri}: an s3:// URI needs a bucket (s3://bucket/prefix)`);
    const prefix = decodeURIComponent(url.pathname).replace(/^\/+/, '').replace(/\/+$/, '');
    this.prefix = prefix === '' ? '' : `${prefix}/`;
    this.client = s3Client();
  }

  where(key: string): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }

  private failed(err: unknown, what: string, key: string): Error {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return new Error(
      `${what} ${this.where(key)}: ${(err as Error).name}${status ? ` (HTTP ${status})` : ''}: ${(err as Error).message}`,
      { cause: err },
    );
  }

  /** The key is not there (a missing bucket is not: that is storage to fix, and retryable). */
  private static missing(err: unknown): boolean {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const name = (err as Error).name;
    return name === 'NoSuchKey' || (status === 404 && name !== 'NoSuchBucket');
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
      );
      return await res.Body!.transformToString('utf8');
    } catch (err) {
      if (S3Store.missing(err)) return undefined;
      throw this.failed(err, 'reading', key);
    }
  }

  async read(key: string): Promise<AsyncIterable<Uint8Array>> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
      );
      return res.Body as Readable;
    } catch (err) {
      throw this.failed(err, 'reading', key);
    }
  }

  async readRange(key: string, start: number, end: number): Promise<AsyncIterable<Uint8Array>> {
    if (end <= start) return nothing();
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Range: `bytes=${start}-${end - 1}`,
        }),
      );
      return res.Body as Readable;
    } catch (err) {
      throw this.failed(err, `reading bytes ${start}–${end - 1} of`, key);
    }
  }

  async size(key: string): Promise<number> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
      );
      return Number(head.ContentLength ?? 0);
    } catch (err) {
      throw this.failed(err, 'reading', key);
    }
  }

  async upload(file: string, key: string, signal?: AbortSignal): Promise<void> {
    const { size } = await stat(file);
    const opts = signal ? { abortSignal: signal } : {};
    try {
      if (size <= this.limits.singleRequestBytes) {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
            Body: createReadStream(file),
            ContentLength: size,
          }),
          opts,
        );
        return;
      }
      await this.multipart(key, size, (part, start, end) =>
        this.client
          .send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: this.prefix + key,
              UploadId: part.uploadId,
              PartNumber: part.number,
              Body: createReadStream(file, { start, end: end - 1 }),
              ContentLength: end - start,
            }),
            opts,
          )
          .then((r) => r.ETag),
      );
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw this.failed(err, 'writing', key);
    }
  }

  /** A multipart upload of `size` bytes to `key`, each part sent by `send`; aborted on failure. */
  private async multipart(
    key: string,
    size: number,
    send: (
      part: { uploadId: string; number: number },
      start: number,
      end: number,
    ) => Promise<string | undefined>,
  ): Promise<void> {
    const partBytes = Math.max(this.limits.partBytes, Math.ceil(size / S3_MAX_PARTS));
    const created = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + key }),
    );
    const uploadId = created.UploadId!;
    try {
      const parts: { PartNumber: number; ETag: string }[] = [];
      for (let start = 0, number = 1; start < size; start += partBytes, number++) {
        const etag = await send({ uploadId, number }, start, Math.min(start + partBytes, size));
        if (!etag) throw new Error(`part ${number} of ${this.where(key)}: no ETag in the answer`);
        parts.push({ PartNumber: number, ETag: etag });
      }
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (err) {
      await this.client
        .send(
          new AbortMultipartUploadCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
            UploadId: uploadId,
          }),
        )
        .catch(() => {});
      throw err;
    }
  }

  async writeText(key: string, text: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: text }),
      );
    } catch (err) {
      throw this.failed(err, 'writing', key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return true;
    } catch (err) {
      if (S3Store.missing(err)) return false;
      throw this.failed(err, 'reading', key);
    }
  }

  async place(from: string, to: string): Promise<void> {
    const source = `${this.bucket}/${(this.prefix + from).split('/').map(encodeURIComponent).join('/')}`;
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + from }),
      );
      const size = Number(head.ContentLength ?? 0);
      if (size <= this.limits.singleRequestBytes) {
        await this.client.send(
          new CopyObjectCommand({ Bucket: this.bucket, Key: this.prefix + to, CopySource: source }),
        );
        return;
      }
      await this.multipart(to, size, (part, start, end) =>
        this.client
          .send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: this.prefix + to,
              UploadId: part.uploadId,
              PartNumber: part.number,
              CopySource: source,
              CopySourceRange: `bytes=${start}-${end - 1}`,
            }),
          )
          .then((r) => r.CopyPartResult?.ETag),
      );
    } catch (err) {
      throw this.failed(err, `copying ${this.where(from)} to`, to);
    }
  }

  async remove(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (err) {
      if (!S3Store.missing(err)) throw this.failed(err, 'removing', key);
    }
  }

  async removeAll(prefixKey: string): Promise<void> {
    const prefix = `${this.prefix}${prefixKey.replace(/\/+$/, '')}/`;
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (keys.length > 0)
        await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }),
        );
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async folders(prefixKey: string): Promise<string[]> {
    const prefix = `${this.prefix}${prefixKey.replace(/\/+$/, '')}/`;
    const names: string[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            Delimiter: '/',
            ContinuationToken: token,
          }),
        );
      } catch (err) {
        throw this.failed(err, 'listing', prefixKey);
      }
      for (const p of page.CommonPrefixes ?? [])
        if (p.Prefix) names.push(p.Prefix.slice(prefix.length).replace(/\/$/, ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return names;
  }

  close(): void {
    this.client.destroy();
  }
}
