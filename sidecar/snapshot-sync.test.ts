import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { RefusedError } from './errors.js';
import { SidecarMetrics } from './metrics.js';
import { MAX_REFUSED_REMEMBERED, SnapshotSync } from './snapshot-sync.js';
import type { GetResult, Source } from './sources/index.js';
import { VolumeKind } from './volume.js';

/** A source whose LATEST names a new version at every read, each with the manifest `manifest(v)`. */
function rotatingSource(manifest: (version: string) => string): Source & { gets: string[] } {
  let n = 0;
  const gets: string[] = [];
  const reply = (text: string, etag: string): GetResult => ({
    notModified: false,
    body: Readable.from([Buffer.from(text)]),
    etag,
    size: Buffer.byteLength(text),
  });
  return {
    uri: 'mem://storage',
    gets,
    async get(key) {
      gets.push(key);
      if (key === 'LATEST') return reply(`spin-${++n}\n`, `"l${n}"`);
      return reply(manifest(key.split('/')[0]!), `"m-${key}"`);
    },
    close() {},
  };
}

describe('SnapshotSync against a LATEST that moves at every poll', () => {
  let root: string;
  let volume: VolumeKind;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'lightrank-snapshot-sync-'));
    volume = new VolumeKind(root, 'snapshot');
    await volume.init();
  });
  afterEach(async () => rm(root, { recursive: true, force: true }));

  const syncFor = (source: Source) =>
    new SnapshotSync(
      source,
      volume,
      { keep: 2, refusedRetryMs: 60_000, expectedFingerprint: () => undefined, inUse: async () => new Set() },
      new SidecarMetrics(new Registry()),
      createLogger('snapshot-sync-test'),
    );

  it(`remembers at most ${MAX_REFUSED_REMEMBERED} refused versions`, async () => {
    const sync = syncFor(rotatingSource(() => '{"formatVersion":1}'));
    for (let i = 0; i < 3 * MAX_REFUSED_REMEMBERED; i++) {
      await expect(sync.pollOnce()).rejects.toMatchObject({ refusal: 'manifest' });
      expect(sync.refusalSubject).toBe(`spin-${i + 1}`);
    }
    expect(sync.refusedCount).toBe(MAX_REFUSED_REMEMBERED);
  });

  it('does not remember a version refused as too large for the volume (free space changes)', async () => {
    const rows = 2 ** 44;
    const huge = (v: string) =>
      JSON.stringify({
        formatVersion: 1,
        snapshotVersion: v,
        towerFingerprint: 'f',
        tasks: ['ctr'],
        dim: 1,
        dtype: 'float32',
        rows,
        files: {
          'ids.u64': { sha256: 'a'.repeat(64), bytes: rows * 8 },
          'embeddings.bin': { sha256: 'b'.repeat(64), bytes: rows * 4 },
        },
        createdAt: '2026-01-01T00:00:00Z',
      });
    const source = rotatingSource(huge);
    const sync = syncFor(source);
    const err = await sync.pollOnce().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedError);
    expect((err as RefusedError).refusal).toBe('too_large');
    expect(sync.refusedCount).toBe(0);
    expect(source.gets).toEqual(['LATEST', 'spin-1/manifest.json']); // no data file asked for
  });
});
