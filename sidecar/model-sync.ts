// Fetches the query-tower ONNX file named by the spec (URI + sha256 + version + fingerprint) and
// publishes it as model/<version>/{model.onnx,model.json} with model/current pointing at it.
// The sha256 must match the spec; the fingerprint in the file's ONNX metadata, when present,
// must match the spec's; one of the two must exist (snapshots are checked against it).
// The spec gives no size, so the download is capped: at `maxBytes` (LIGHTRANK_SYNC_MAX_MODEL_BYTES)
// and at the volume's free space, whichever is less (`too_large`, announced or read).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/logger.js';
import { downloadToFile, type TransferLimits } from './download.js';
import { RefusedError, localWriteError } from './errors.js';
import type { SidecarMetrics } from './metrics.js';
import { readOnnxMetadata } from './onnx-metadata.js';
import { assertSafeVersion } from './paths.js';
import type { Source } from './sources/index.js';
import type { VolumeKind } from './volume.js';

export const FINGERPRINT_METADATA_KEY = 'lightrank.fingerprint';
/** The default cap of a model file: protobuf's 2 GiB limit on one ONNX file without external data. */
export const DEFAULT_MAX_MODEL_BYTES = 2 ** 31;

export interface ModelTransferOptions {
  limits?: TransferLimits;
  /** The largest model file accepted (default DEFAULT_MAX_MODEL_BYTES). */
  maxBytes?: number;
}

export interface ModelSpec {
  /** Source of the file's parent prefix, and the file's key in it. */
  source: Source;
  key: string;
  sha256: string;
  version: string;
  /** The tower fingerprint from the spec; else the one in the ONNX metadata is used. */
  fingerprint: string | undefined;
}

/** model.json beside model.onnx (docs/internals.md). */
export interface ModelInfo {
  version: string;
  sha256: string;
  towerFingerprint: string;
}

export class ModelSync {
  constructor(
    private readonly spec: ModelSpec,
    private readonly volume: VolumeKind,
    private readonly keep: number,
    private readonly inUse: () => Promise<Set<string>>,
    private readonly metrics: SidecarMetrics,
    private readonly log: Logger,
    private readonly transfer: ModelTransferOptions = {},
  ) {
    assertSafeVersion(spec.version, 'model version');
  }

  /** Makes sure the spec's model is published and current; returns what model.json says. */
  async ensure(): Promise<ModelInfo> {
    const { version, sha256 } = this.spec;
    const existing = await this.published(version);
    if ((await this.volume.current()) === version && existing) {
      if (existing.sha256 === sha256) return existing;
      throw new RefusedError(
        'checksum',
        `model ${version} is in place with sha256 ${existing.sha256}, the spec now says ${sha256}: publish it as a new version`,
      );
    }

    const started = performance.now();
    const tmp = await this.volume.makeTemp(version);
    try {
      const file = path.join(tmp, 'model.onnx');
      const cap = this.transfer.maxBytes ?? DEFAULT_MAX_MODEL_BYTES;
      const free = await this.volume.freeBytes();
      const byFree = free !== undefined && free < cap;
      const got = await downloadToFile(this.spec.source, this.spec.key, file, {
        maxBytes: byFree ? free : cap,
        maxBytesWhat: byFree
          ? `the ${free} bytes free on the volume`
          : `the model cap of ${cap} bytes (LIGHTRANK_SYNC_MAX_MODEL_BYTES)`,
        onBytes: (n) => this.metrics.bytes.inc({ kind: 'model' }, n),
        ...(this.transfer.limits ? { limits: this.transfer.limits } : {}),
      });
      if (got.sha256 !== sha256.toLowerCase()) {
        throw new RefusedError(
          'checksum',
          `model ${this.spec.source.uri}/${this.spec.key}: sha256 ${got.sha256}, the spec says ${sha256}`,
        );
      }
      const info: ModelInfo = {
        version,
        sha256: got.sha256,
        towerFingerprint: await this.fingerprintOf(file),
      };
      const json = path.join(tmp, 'model.json');
      await writeFile(json, `${JSON.stringify(info)}\n`).catch((err: unknown) => {
        throw localWriteError(err, json, 'write');
      });
      await this.volume.publish(tmp, version);
      const removed = await this.volume.prune(this.keep, await this.inUse());
      this.metrics.duration.observe({ kind: 'model' }, (performance.now() - started) / 1000);
      this.log.info({ version, bytes: got.bytes, removed }, 'model published');
      return info;
    } catch (err) {
      await this.volume.discard(tmp);
      throw err;
    }
  }

  private async fingerprintOf(file: string): Promise<string> {
    let inFile: string | undefined;
    try {
      inFile = (await readOnnxMetadata(file)).get(FINGERPRINT_METADATA_KEY);
    } catch (err) {
      throw new RefusedError('manifest', `model ${this.spec.key}: ${(err as Error).message}`);
    }
    const wanted = this.spec.fingerprint;
    if (wanted !== undefined && inFile !== undefined && inFile !== wanted) {
      throw new RefusedError(
        'fingerprint',
        `model ${this.spec.key}: ONNX metadata ${FINGERPRINT_METADATA_KEY}=${inFile}, the spec says ${wanted}`,
      );
    }
    const fingerprint = wanted ?? inFile;
    if (fingerprint === undefined) {
      throw new RefusedError(
        'fingerprint',
        `model ${this.spec.key}: no tower fingerprint (no LIGHTRANK_TOWER_FINGERPRINT, no ${FINGERPRINT_METADATA_KEY} in the ONNX metadata)`,
      );
    }
    return fingerprint;
  }

  /** model.json of an already published version, if any. */
  private async published(version: string): Promise<ModelInfo | undefined> {
    if (!(await this.volume.has(version))) return undefined;
    try {
      return JSON.parse(
        await readFile(path.join(this.volume.dir, version, 'model.json'), 'utf8'),
      ) as ModelInfo;
    } catch {
      return undefined;
    }
  }
}
