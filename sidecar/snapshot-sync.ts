// One poll of a snapshot prefix: read LATEST (If-None-Match), and when it names a version that
// is not current, download it into a temp folder (each file streamed with its sha256, or each of
// its blocks' when the manifest lists block checksums, checked against the manifest as it arrives; a multi-part version's parts `parallelDownloads` at a time,
// then assembled into the single-file layout the server maps), validate the folder with the snapshot module's validator
// (given the digests computed while downloading, so no file is read again just to hash it: sizes,
// shape, dtype and duplicate ids are still checked on disk), then publish it and flip
// snapshot/current. A refused version is remembered and not fetched
// again until its manifest changes or `refusedRetryMs` has passed.
// Bounds: LATEST is read up to 1 KiB and a manifest up to 1 MiB (never buffered past that); a
// version whose files would not fit the volume's free space (with the old version kept; after
// pruning what a publish would prune anyway) is refused (`too_large`) before a byte of it is
// fetched, and looked at again at the next poll (free space changes; its manifest is re-read,
// nothing else); each transfer runs under the watchdog of download.ts; at most 64 refused versions are
// remembered (a LATEST that names a new version at every poll cannot grow memory).
import { writeFile } from 'node:fs/promises';
import type { Logger } from '../lib/logger.js';
import {
  assembleParts,
  checkFingerprint,
  checkManifestShape,
  FileVerifier,
  isSnapshotError,
  MANIFEST_FILE,
  parseManifest,
  validateSnapshot,
  type SnapshotManifest,
} from '../snapshot/index.js';
import { downloadToFile, fetchSmall, type TransferLimits } from './download.js';
import { LocalWriteError, RefusedError, SourceError, localWriteError, type RefusalCause } from './errors.js';
import type { SidecarMetrics } from './metrics.js';
import { assertSafeFileName, assertSafeVersion, within } from './paths.js';
import type { Source } from './sources/index.js';
import type { VolumeKind } from './volume.js';

export const LATEST_KEY = 'LATEST';
export const MAX_LATEST_BYTES = 1024;
export const MAX_MANIFEST_BYTES = 1 << 20;
/** Refused versions remembered (the oldest forgotten first). */
export const MAX_REFUSED_REMEMBERED = 64;

export type PollOutcome =
  | { outcome: 'current'; version: string }
  | { outcome: 'published'; version: string; bytes: number; seconds: number }
  | { outcome: 'refused_before'; version: string };

export interface SnapshotSyncOptions {
  keep: number;
  refusedRetryMs: number;
  /** The fingerprint snapshots must carry (the model's); undefined accepts any. */
  expectedFingerprint: () => string | undefined;
  /** Versions pruning must keep besides current and previous (the ones the server serves). */
  inUse: () => Promise<Set<string>>;
  /** Called when LATEST names another version than at the previous poll, before any download. */
  onLatest?: (version: string) => Promise<void>;
  /** Stall and rate-floor limits of every transfer (download.ts defaults when absent). */
  limits?: TransferLimits;
  /** Files of a multi-part version downloaded at once (default 4; a single-file one: in order). */
  parallelDownloads?: number;
  now?: () => number;
}

/**
 * Runs `work` on every item, at most `limit` at a time. After a failure no new item starts; the
 * ones in flight are waited for (so nothing still writes into a folder the caller then removes),
 * and the first failure is thrown.
 */
export async function eachAtMost<T>(
  limit: number,
  items: T[],
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
}

interface Refusal {
  at: number;
  manifestEtag: string | undefined;
}

export class SnapshotSync {
  private latest: { etag: string; version: string } | undefined;
  private readonly refused = new Map<string, Refusal>();
  /** The version LATEST named at the last poll that could read it. */
  latestVersion: string | undefined;
  /**
   * What a RefusedError of the current poll refers to: `LATEST` itself until it has been read
   * (a symlink, an unsafe name, a redirect off-origin…), then the version it names.
   */
  refusalSubject: string | undefined;
  private readonly now: () => number;

  constructor(
    private readonly source: Source,
    private readonly volume: VolumeKind,
    private readonly options: SnapshotSyncOptions,
    private readonly metrics: SidecarMetrics,
    private readonly log: Logger,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Throws SourceError, RefusedError or LocalWriteError; the caller reports and backs off. */
  async pollOnce(): Promise<PollOutcome> {
    this.refusalSubject = LATEST_KEY;
    const version = await this.readLatest();
    this.refusalSubject = version;
    if (version !== this.latestVersion) {
      this.latestVersion = version;
      await this.options.onLatest?.(version);
    }
    if ((await this.volume.current()) === version) return { outcome: 'current', version };

    const manifestKey = `${version}/${MANIFEST_FILE}`;
    const refusal = this.refused.get(version);
    const recent = refusal !== undefined && this.now() - refusal.at < this.options.refusedRetryMs;
    // Refused before its manifest could be read (or the manifest has no ETag): wait out the cool-down.
    if (recent && refusal.manifestEtag === undefined) return { outcome: 'refused_before', version };
    let manifest;
    try {
      manifest = await fetchSmall(this.source, manifestKey, {
        maxBytes: MAX_MANIFEST_BYTES,
        cause: 'manifest',
        ifNoneMatch: recent ? refusal.manifestEtag : undefined,
        ...(this.options.limits ? { limits: this.options.limits } : {}),
      });
    } catch (err) {
      if (err instanceof RefusedError) this.remember(version, undefined);
      throw err;
    }
    if (manifest.notModified || (recent && manifest.etag === refusal.manifestEtag)) {
      return { outcome: 'refused_before', version };
    }
    try {
      return await this.sync(version, manifest.data);
    } catch (err) {
      // Not `too_large`: the volume's free space changes without the version changing.
      if (err instanceof RefusedError && err.refusal !== 'too_large') this.remember(version, manifest.etag);
      throw err;
    }
  }

  /** How many refused versions are remembered (bounded by MAX_REFUSED_REMEMBERED). */
  get refusedCount(): number {
    return this.refused.size;
  }

  private remember(version: string, manifestEtag: string | undefined): void {
    this.refused.delete(version);
    this.refused.set(version, { at: this.now(), manifestEtag });
    for (const oldest of this.refused.keys()) {
      if (this.refused.size <= MAX_REFUSED_REMEMBERED) break;
      this.refused.delete(oldest);
    }
  }

  private async readLatest(): Promise<string> {
    const res = await fetchSmall(this.source, LATEST_KEY, {
      maxBytes: MAX_LATEST_BYTES,
      cause: 'bad_version',
      ifNoneMatch: this.latest?.etag,
      ...(this.options.limits ? { limits: this.options.limits } : {}),
    });
    if (res.notModified && this.latest) return this.latest.version;
    if (res.notModified) {
      throw new SourceError('bad_response', `${this.source.uri}/${LATEST_KEY}: 304 without an earlier ETag`);
    }
    const version = assertSafeVersion(res.data.toString('utf8').trim(), `${this.source.uri}/${LATEST_KEY}`);
    this.latest = res.etag ? { etag: res.etag, version } : undefined;
    return version;
  }

  private async sync(version: string, manifestText: Buffer): Promise<PollOutcome> {
    const started = performance.now();
    const where = `${this.source.uri}/${version}`;
    const manifest = this.checkManifest(manifestText.toString('utf8'), version, where);
    const sizes = Object.values(manifest.files).map((f) => f.bytes);
    // a multi-part version is assembled beside its parts, each part removed once copied
    const assembly = manifest.parts ? Math.max(0, ...sizes) : 0;
    const need = sizes.reduce((sum, b) => sum + b, manifestText.length + assembly);
    await this.ensureRoom(need, where);

    const tmp = await this.volume.makeTemp(version);
    let bytes = 0;
    let downloadSeconds = 0;
    let sha256: Record<string, string> = {};
    const verified = new Set<string>(); // files checked against their blocks while downloading
    try {
      // a multi-part version's parts in parallel; a single-file one in order (ids first: a refusal
      // of it costs no byte of the matrix)
      await eachAtMost(
        manifest.parts ? (this.options.parallelDownloads ?? 4) : 1,
        Object.entries(manifest.files),
        async ([name, entry]) => {
          const file = within(tmp, assertSafeFileName(name, `${where}/${MANIFEST_FILE}`));
          // a file listed with block checksums: each block checked as it arrives (one hash pass)
          const blocks = entry.blocks ? new FileVerifier(name, entry) : undefined;
          const got = await downloadToFile(this.source, `${version}/${name}`, file, {
            expectedBytes: entry.bytes,
            onBytes: (n) => this.metrics.bytes.inc({ kind: 'snapshot' }, n),
            ...(blocks ? { onChunk: (chunk: Buffer) => blocks.update(chunk) } : {}),
            ...(this.options.limits ? { limits: this.options.limits } : {}),
          });
          if (blocks) {
            try {
              blocks.finish();
            } catch (err) {
              throw new RefusedError('checksum', `${where}/${(err as Error).message}`);
            }
            verified.add(name);
            bytes += got.bytes;
            return;
          }
          if (got.sha256 !== entry.sha256) {
            throw new RefusedError(
              'checksum',
              `${where}/${name}: sha256 ${got.sha256}, the manifest says ${entry.sha256}`,
            );
          }
          sha256[name] = got.sha256;
          bytes += got.bytes;
        },
      );
      const manifestFile = within(tmp, MANIFEST_FILE);
      await writeFile(manifestFile, manifestText).catch((err: unknown) => {
        throw localWriteError(err, manifestFile, 'write');
      });
      downloadSeconds = (performance.now() - started) / 1000;
      if (manifest.parts) {
        // every part verified as it arrived: the server maps one file, so the parts become one
        const assembled = await assembleParts(tmp, manifest).catch((err: unknown) => {
          throw localWriteError(err, tmp, 'write');
        });
        sha256 = assembled.sha256;
      }
      await this.validate(tmp, where, sha256, verified);
      await this.volume.publish(tmp, version);
    } catch (err) {
      await this.volume.discard(tmp);
      throw err;
    }
    const removed = await this.volume.prune(this.options.keep, await this.options.inUse());
    const seconds = (performance.now() - started) / 1000;
    this.metrics.duration.observe({ kind: 'snapshot' }, seconds);
    this.log.info({ version, bytes, seconds, downloadSeconds, removed }, 'snapshot published');
    return { outcome: 'published', version, bytes, seconds };
  }

  /**
   * Refuses (`too_large`) a version of `need` bytes that the volume cannot hold beside the old
   * one. When it does not fit, first prunes what a publish would prune anyway (down to keep − 1,
   * never current, previous or in use), then looks again.
   */
  private async ensureRoom(need: number, where: string): Promise<void> {
    let free = await this.volume.freeBytes();
    if (free === undefined || need <= free) return;
    const removed = await this.volume.prune(this.options.keep - 1, await this.options.inUse());
    if (removed.length > 0) {
      this.log.info({ need, free, removed }, 'pruned old versions to make room for a new one');
      free = (await this.volume.freeBytes()) ?? free;
    }
    if (need > free) {
      throw new RefusedError(
        'too_large',
        `${where}: its ${need} bytes do not fit the ${free} bytes free on the volume beside the version in use (not downloaded)`,
      );
    }
  }

  /** The manifest checks that need no file: refuses before a byte of the matrix is fetched. */
  private checkManifest(text: string, version: string, where: string): SnapshotManifest {
    // File names first, so a hostile name is refused as such, whatever else is wrong.
    for (const name of listedFileNames(text)) assertSafeFileName(name, `${where}/${MANIFEST_FILE}`);
    let manifest: SnapshotManifest;
    try {
      manifest = parseManifest(text);
      checkFingerprint(manifest, this.options.expectedFingerprint());
      checkManifestShape(manifest);
    } catch (err) {
      throw asRefusal(err, where);
    }
    if (manifest.snapshotVersion !== version) {
      throw new RefusedError(
        'manifest',
        `${where}/${MANIFEST_FILE}: snapshotVersion ${JSON.stringify(manifest.snapshotVersion)} is not the folder's version ${version}`,
      );
    }
    return manifest;
  }

  /** The snapshot module's full validation of what landed on disk (`sha256`: digests computed while downloading). */
  private async validate(
    dir: string,
    where: string,
    sha256: Record<string, string>,
    verified: Set<string>,
  ): Promise<void> {
    try {
      await validateSnapshot(dir, {
        expectedFingerprint: this.options.expectedFingerprint(),
        sha256,
        verified,
      });
    } catch (err) {
      if (isSnapshotError(err) && err.cause === 'io')
        throw localWriteError(err, `${dir}/${err.file ?? ''}`, 'read');
      throw asRefusal(err, where);
    }
  }
}

/** The keys of `files` in a manifest's JSON, or none when it is not that shape (parseManifest says why). */
function listedFileNames(text: string): string[] {
  try {
    const files = (JSON.parse(text) as { files?: unknown } | null)?.files;
    return files !== null && typeof files === 'object' ? Object.keys(files) : [];
  } catch {
    return [];
  }
}

function asRefusal(err: unknown, where: string): Error {
  if (err instanceof RefusedError || err instanceof LocalWriteError) return err;
  if (isSnapshotError(err))
    return new RefusedError(err.cause as RefusalCause, `${where}: ${err.message}`, { cause: err });
  return err as Error;
}
