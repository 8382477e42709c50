// Streams one object from a source to a local file with bounded memory, time and size: the bytes
// pass through an incremental sha256 on their way to disk (or, when the caller checks them
// itself, e.g. against block checksums, through the caller's `onChunk` instead); a watchdog aborts a transfer that
// stalls or trickles; a length announced by the source that disagrees with the one expected is
// refused before a byte is read, and reading stops one chunk past the expected length (the
// crossing chunk is never written), so a lying or endless body cannot fill the disk. Small
// objects (LATEST, manifests) are read into memory under a hard cap, with the same watchdog.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LocalWriteError, RefusedError, SourceError, localWriteError, type RefusalCause } from './errors.js';
import type { GetResult, Source } from './sources/index.js';

/** How long and how slowly a transfer may go before it is aborted (a SourceError, retried). */
export interface TransferLimits {
  /** No byte (response headers included) for this long: `stalled`. */
  stallMs: number;
  /** Fewer than this many bytes per second over a rate window: `too_slow` (0: no floor). */
  minBytesPerSecond: number;
  /** The window the floor is measured over, from the response on. */
  rateWindowMs: number;
}

/** The defaults documented in docs/snapshots.md (LIGHTRANK_SYNC_STALL_SECONDS, …). */
export const DEFAULT_TRANSFER_LIMITS: TransferLimits = {
  stallMs: 30_000,
  minBytesPerSecond: 64 * 1024,
  rateWindowMs: 60_000,
};

export interface Downloaded {
  bytes: number;
  /** the whole file's sha256; '' when the caller hashed the chunks itself (`onChunk`) */
  sha256: string;
  etag: string | undefined;
}

export interface DownloadOptions {
  /**
   * The exact length (from the manifest): an announced length that differs is refused before
   * reading (`size` when longer, `truncated` when shorter), and so is a body that runs past it
   * (`size`) or ends before it (`truncated`).
   */
  expectedBytes?: number;
  /** A cap when the length is not known in advance (the model): more is refused as `too_large`. */
  maxBytes?: number;
  /** What `maxBytes` is, for the refusal's message ("the model cap of 2 GiB"). */
  maxBytesWhat?: string;
  /** Called with each chunk's length, for the bytes-downloaded metric. */
  onBytes?: (n: number) => void;
  /**
   * Called with each chunk that is written, in order: the caller checks the bytes (block
   * checksums), and no whole-file sha256 is computed here (one hash pass, not two).
   */
  onChunk?: (chunk: Buffer) => void;
  limits?: TransferLimits;
}

/** Downloads `key` into `dest` (created, must not exist); returns its length and sha256 (hex). */
export async function downloadToFile(
  source: Source,
  key: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<Downloaded> {
  const where = `${source.uri}/${key}`;
  const expected = options.expectedBytes;
  const max = options.maxBytes;
  const dog = new Watchdog(options.limits ?? DEFAULT_TRANSFER_LIMITS, where);
  let handle: FileHandle | undefined;
  try {
    const res = await dog.get(source, key);
    if (res.notModified) throw new SourceError('bad_response', `${where}: unexpected 304`);
    try {
      checkAnnounced(res.size, expected, max, options.maxBytesWhat, where);
      handle = await open(dest, 'wx').catch((err: unknown) => {
        throw localWriteError(err, dest, 'write');
      });
    } catch (err) {
      res.body.destroy();
      throw err;
    }
    const hash = options.onChunk ? undefined : createHash('sha256');
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        dog.progress(chunk.length);
        if (expected !== undefined && bytes > expected) {
          done(
            new RefusedError(
              'size',
              `${where}: more than the ${expected} bytes the manifest says (stopped reading at ${bytes})`,
            ),
          );
          return;
        }
        if (max !== undefined && bytes > max) {
          done(
            tooLarge(
              where,
              `more than ${options.maxBytesWhat ?? `${max} bytes`} (stopped reading at ${bytes})`,
            ),
          );
          return;
        }
        if (hash) hash.update(chunk);
        else options.onChunk!(chunk);
        options.onBytes?.(chunk.length);
        done(null, chunk);
      },
    });
    const out = handle.createWriteStream();
    try {
      await dog.watch(pipeline(res.body, meter, out, { signal: dog.signal }), res.body);
    } catch (err) {
      if (dog.error) throw dog.error;
      if (err instanceof RefusedError) throw err;
      if (isFileSystemError(err)) throw localWriteError(err, dest, 'write');
      throw new SourceError(
        'interrupted',
        `${where}: the body broke off after ${bytes} bytes: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (expected !== undefined && bytes < expected) {
      throw new RefusedError('truncated', `${where}: ${bytes} bytes, the manifest says ${expected}`);
    }
    return { bytes, sha256: hash ? hash.digest('hex') : '', etag: res.etag };
  } finally {
    dog.stop();
    await handle?.close().catch(() => undefined);
  }
}

/** Refuses, before a byte is read, a length the source announces that cannot be right. */
function checkAnnounced(
  size: number | undefined,
  expected: number | undefined,
  max: number | undefined,
  maxWhat: string | undefined,
  where: string,
): void {
  if (size === undefined) return;
  if (expected !== undefined && size > expected) {
    throw new RefusedError(
      'size',
      `${where}: the source announces ${size} bytes, the manifest says ${expected}`,
    );
  }
  if (expected !== undefined && size < expected) {
    throw new RefusedError(
      'truncated',
      `${where}: the source announces ${size} bytes, the manifest says ${expected}`,
    );
  }
  if (max !== undefined && size > max) {
    throw tooLarge(where, `the source announces ${size} bytes, more than ${maxWhat ?? `${max} bytes`}`);
  }
}

function tooLarge(where: string, what: string): RefusedError {
  return new RefusedError('too_large', `${where}: ${what}`);
}

/** An error of opening or writing the local file, as opposed to one of reading the source. */
function isFileSystemError(err: unknown): boolean {
  const syscall = (err as NodeJS.ErrnoException | undefined)?.syscall;
  return syscall === 'open' || syscall === 'write' || syscall === 'close' || syscall === 'fsync';
}

export type SmallObject =
  { notModified: true } | { notModified: false; data: Buffer; etag: string | undefined };

export interface FetchSmallOptions {
  /** The cap: a larger object (announced or read) is refused with `cause`, unread past the cap. */
  maxBytes: number;
  /** The refusal cause for an object over the cap (`manifest` for a manifest, `bad_version` for LATEST). */
  cause: RefusalCause;
  ifNoneMatch?: string | undefined;
  limits?: TransferLimits;
}

/** Reads a small object (a pointer, a manifest) into memory; refuses one over `maxBytes`. */
export async function fetchSmall(
  source: Source,
  key: string,
  options: FetchSmallOptions,
): Promise<SmallObject> {
  const where = `${source.uri}/${key}`;
  const dog = new Watchdog(options.limits ?? DEFAULT_TRANSFER_LIMITS, where);
  try {
    const res: GetResult = await dog.get(source, key, options.ifNoneMatch);
    if (res.notModified) return res;
    if (res.size !== undefined && res.size > options.maxBytes) {
      res.body.destroy();
      throw new RefusedError(
        options.cause,
        `${where}: the source announces ${res.size} bytes, more than the ${options.maxBytes} allowed (not read)`,
      );
    }
    return {
      notModified: false,
      data: await dog.watch(readCapped(res.body, options, where, dog), res.body),
      etag: res.etag,
    };
  } catch (err) {
    if (dog.error) throw dog.error;
    throw err;
  } finally {
    dog.stop();
  }
}

async function readCapped(
  body: Readable,
  options: FetchSmallOptions,
  where: string,
  dog: Watchdog,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      total += (chunk as Buffer).length;
      dog.progress((chunk as Buffer).length);
      if (total > options.maxBytes) {
        body.destroy();
        throw new RefusedError(
          options.cause,
          `${where}: larger than ${options.maxBytes} bytes (stopped reading at ${total})`,
        );
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (dog.error) throw dog.error;
    if (err instanceof RefusedError || err instanceof LocalWriteError) throw err;
    throw new SourceError(
      'interrupted',
      `${where}: the body broke off after ${total} bytes: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return Buffer.concat(chunks);
}

/**
 * Aborts one transfer that stalls (no byte for `stallMs`, from the request on) or trickles (fewer
 * than `minBytesPerSecond` over a rate window, from the response on): the signal given to the
 * source fires, the body is destroyed, and `watch`/`get` reject at once with the SourceError
 * (even when the underlying read does not return, as on a hung network file system).
 */
class Watchdog {
  private readonly controller = new AbortController();
  error: SourceError | undefined;
  private readonly failed: Promise<never>;
  private reject!: (err: SourceError) => void;
  private readonly stall: NodeJS.Timeout;
  private rate: NodeJS.Timeout | undefined;
  private windowBytes = 0;
  private body: Readable | undefined;

  constructor(
    private readonly limits: TransferLimits,
    private readonly where: string,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.reject = reject));
    this.failed.catch(() => undefined);
    this.stall = setTimeout(
      () => this.trip('stalled', `no byte for ${limits.stallMs / 1000} s`),
      limits.stallMs,
    );
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** `source.get` under the watchdog; a response that comes after it tripped is discarded. */
  async get(source: Source, key: string, ifNoneMatch?: string): Promise<GetResult> {
    const pending = source.get(key, { signal: this.signal, ...(ifNoneMatch ? { ifNoneMatch } : {}) });
    const res = await Promise.race([pending, this.failed]).catch((err: unknown) => {
      if (this.error)
        pending.then(
          (late) => late.notModified || late.body.destroy(),
          () => undefined,
        );
      throw err;
    });
    if (!res.notModified) res.body.on('error', () => undefined); // read by the caller; never uncaught
    this.responded(res.notModified ? undefined : res.body);
    return res;
  }

  progress(n: number): void {
    this.windowBytes += n;
    this.stall.refresh();
  }

  /** Resolves with `work`, or rejects as soon as the watchdog trips (giving `work` a second to settle). */
  async watch<T>(work: Promise<T>, body: Readable): Promise<T> {
    this.body = body;
    try {
      return await Promise.race([work, this.failed]);
    } catch (err) {
      if (this.error) {
        await Promise.race([work.catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
        throw this.error;
      }
      throw err;
    }
  }

  stop(): void {
    clearTimeout(this.stall);
    clearInterval(this.rate);
  }

  private responded(body: Readable | undefined): void {
    this.body = body;
    this.stall.refresh();
    const { minBytesPerSecond, rateWindowMs } = this.limits;
    if (minBytesPerSecond <= 0 || !body) return;
    const floor = (minBytesPerSecond * rateWindowMs) / 1000;
    this.windowBytes = 0;
    this.rate = setInterval(() => {
      if (this.windowBytes < floor) {
        this.trip(
          'too_slow',
          `${this.windowBytes} bytes in ${rateWindowMs / 1000} s, under the floor of ${minBytesPerSecond} bytes/s`,
        );
      }
      this.windowBytes = 0;
    }, rateWindowMs);
  }

  private trip(code: 'stalled' | 'too_slow', why: string): void {
    if (this.error) return;
    this.error = new SourceError(code, `${this.where}: ${why}; aborted`);
    this.stop();
    this.controller.abort(this.error);
    this.body?.destroy(this.error);
    this.reject(this.error);
  }
}
