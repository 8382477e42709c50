// End to end against a real S3-compatible server (moto, on loopback) and the sidecar as a real
// process: publish v1 → ready on v1; v2 → current flips; each kind of bad v3 → refused, counted
// by cause, v2 stays current; a hostile manifest → refused, nothing written outside.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSnapshot } from '../../snapshot/index.js';
import {
  writeBadSnapshot,
  writeHostileSnapshot,
  writeModel,
  writeMultiPartVersion,
  writeSnapshotVersion,
  type Corruption,
  type ModelFixture,
} from './helpers/fixtures.js';
import { publishToS3, putFile } from './helpers/s3-publish.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { RepoProcess, waitFor } from './helpers/processes.js';

const BUCKET = 'lightrank-test';
const PREFIX = 'segments/standard/snapshots';

describe('sidecar syncing from S3', () => {
  let s3: S3Server;
  let work: string;
  let dataDir: string;
  let local: string;
  let model: ModelFixture;
  let sidecar: RepoProcess;
  const current = async (kind: string) =>
    readlink(path.join(dataDir, kind, 'current')).catch(() => undefined);

  beforeAll(async () => {
    s3 = await startS3Server();
    await s3.createBucket(BUCKET);
    work = await mkdtemp(path.join(tmpdir(), 'lightrank-sidecar-s3-'));
    dataDir = path.join(work, 'volume');
    local = path.join(work, 'storage');
    model = await writeModel(path.join(work, 'models'));
    await putFile(s3.client, BUCKET, 'models/query-1.onnx', model.file);
    sidecar = await RepoProcess.sidecar({
      ...s3.env,
      LIGHTRANK_DATA_DIR: dataDir,
      LIGHTRANK_MODEL_URI: `s3://${BUCKET}/models/query-1.onnx`,
      LIGHTRANK_MODEL_SHA256: model.sha256,
      LIGHTRANK_MODEL_VERSION: 'm1',
      LIGHTRANK_TOWER_FINGERPRINT: model.fingerprint,
      LIGHTRANK_SNAPSHOT_URI: `s3://${BUCKET}/${PREFIX}`,
      LIGHTRANK_SNAPSHOT_POLL_SECONDS: '0.2',
      LIGHTRANK_SYNC_BACKOFF_BASE_SECONDS: '0.1',
      LIGHTRANK_SYNC_BACKOFF_MAX_SECONDS: '0.5',
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
    await s3?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('publishes the model, then v1, and only then turns ready', async () => {
    await waitFor('model/current', () => current('model'));
    expect(await current('model')).toBe('m1');
    const info = JSON.parse(await readFile(path.join(dataDir, 'model/m1/model.json'), 'utf8'));
    expect(info).toEqual({ version: 'm1', sha256: model.sha256, towerFingerprint: model.fingerprint });
    expect(await readFile(path.join(dataDir, 'model/m1/model.onnx'))).toEqual(await readFile(model.file));
    expect(await sidecar.ready()).toBe(false); // no snapshot published yet

    await writeSnapshotVersion(local, 'v1', model.fingerprint);
    await publishToS3(s3.client, BUCKET, PREFIX, local, 'v1');
    await waitFor('ready', () => sidecar.ready());
    expect(await current('snapshot')).toBe('v1');
    expect(
      await sidecar.metric('lightrank_sidecar_current_version_info', { kind: 'snapshot', version: 'v1' }),
    ).toBe(1);
    expect(
      await sidecar.metric('lightrank_sidecar_downloaded_bytes_total', { kind: 'snapshot' }),
    ).toBeGreaterThan(64 * 8);
  });

  it('flips current to v2 and keeps v1 beside it', async () => {
    await writeSnapshotVersion(local, 'v2', model.fingerprint, 64, 1000);
    await publishToS3(s3.client, BUCKET, PREFIX, local, 'v2');
    await waitFor('current = v2', async () => (await current('snapshot')) === 'v2');
    const entries = await readdir(path.join(dataDir, 'snapshot'));
    expect(entries.sort()).toEqual(['current', 'v1', 'v2']);
    expect((await readdir(path.join(dataDir, 'snapshot/v2'))).sort()).toEqual([
      'embeddings.bin',
      'ids.u64',
      'manifest.json',
    ]);
  });

  const corruptions: Corruption[] = ['checksum', 'truncated', 'format_version', 'fingerprint'];
  for (const kind of corruptions) {
    it(`refuses a v3 with a ${kind} defect; v2 stays current`, async () => {
      const version = `v3-${kind.replace('_', '-')}`;
      const before = await sidecar.metric('lightrank_sidecar_sync_failures_total', {
        kind: 'snapshot',
        cause: kind,
      });
      await writeBadSnapshot(local, version, model.fingerprint, kind);
      await publishToS3(s3.client, BUCKET, PREFIX, local, version);
      await waitFor(
        `failure counted for ${kind}`,
        async () =>
          (await sidecar.metric('lightrank_sidecar_sync_failures_total', { kind: 'snapshot', cause: kind })) >
          before,
      );
      expect(await current('snapshot')).toBe('v2');
      expect(await sidecar.ready()).toBe(true);
      const entries = await readdir(path.join(dataDir, 'snapshot'));
      expect(entries.filter((e) => e.startsWith('.tmp-') || e === version)).toEqual([]);
      const refusal = sidecar.logs.find((l) => l.msg.includes('snapshot refused') && l.cause === kind);
      expect(refusal?.err).toContain(version);

      // The same bad version is not fetched again while its manifest is unchanged.
      const bytes = await sidecar.metric('lightrank_sidecar_downloaded_bytes_total', { kind: 'snapshot' });
      const failures = await sidecar.metric('lightrank_sidecar_sync_failures_total', {
        kind: 'snapshot',
        cause: kind,
      });
      await new Promise((r) => setTimeout(r, 700)); // ~3 polls
      expect(await sidecar.metric('lightrank_sidecar_downloaded_bytes_total', { kind: 'snapshot' })).toBe(
        bytes,
      );
      expect(
        await sidecar.metric('lightrank_sidecar_sync_failures_total', { kind: 'snapshot', cause: kind }),
      ).toBe(failures);
    });
  }

  it('refuses a manifest that names ../ paths and writes nothing outside the volume', async () => {
    await writeHostileSnapshot(local, 'v4-hostile', model.fingerprint, 'escaped.bin');
    await publishToS3(s3.client, BUCKET, PREFIX, local, 'v4-hostile', ['escaped.bin']);
    await waitFor(
      'unsafe_path refusal',
      async () =>
        (await sidecar.metric('lightrank_sidecar_sync_failures_total', {
          kind: 'snapshot',
          cause: 'unsafe_path',
        })) > 0,
    );
    expect(await current('snapshot')).toBe('v2');
    expect(existsSync(path.join(dataDir, 'snapshot', 'escaped.bin'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'escaped.bin'))).toBe(false);
    const refusal = sidecar.logs.find((l) => l.cause === 'unsafe_path');
    expect(refusal?.err).toContain('../escaped.bin');
  });

  it('takes a good version published after the refused ones', async () => {
    await writeSnapshotVersion(local, 'v5', model.fingerprint, 32, 5000);
    await publishToS3(s3.client, BUCKET, PREFIX, local, 'v5');
    await waitFor('current = v5', async () => (await current('snapshot')) === 'v5');
    // keep=3 (default): v5, v2 (previous), v1 (the third newest) stay.
    const kept = (await readdir(path.join(dataDir, 'snapshot'))).filter((e) => e !== 'current').sort();
    expect(kept).toEqual(['v1', 'v2', 'v5']);
  });

  it('takes a multi-part version (the parts downloaded in parallel, each verified), served as one file', async () => {
    const stored = await writeMultiPartVersion(local, 'v6', model.fingerprint, 5, 40, 9000);
    await publishToS3(s3.client, BUCKET, PREFIX, local, 'v6');
    await waitFor('current = v6', async () => (await current('snapshot')) === 'v6');
    const served = path.join(dataDir, 'snapshot/v6');
    expect((await readdir(served)).sort()).toEqual(['embeddings.bin', 'ids.u64', 'manifest.json']);
    const want = await openSnapshot(stored);
    const got = await openSnapshot(served, { expectedFingerprint: model.fingerprint });
    expect(want.manifest.parts).toHaveLength(5);
    expect(got.manifest.formatVersion).toBe(1);
    expect(got.manifest.createdAt).toBe(want.manifest.createdAt);
    expect(Array.from(got.ids)).toEqual(Array.from(want.ids));
    expect(Buffer.from(got.embeddings!.buffer)).toEqual(Buffer.from(want.embeddings!.buffer));
  });

  it('refuses a multi-part version with one corrupt part (checksum, naming it); v6 stays current', async () => {
    const dir = await writeMultiPartVersion(local, 'v7', model.fingerprint, 4, 40, 20000);
    const part = path.join(dir, 'part-00002.embeddings.bin');
    const bytes = await readFile(part);
    bytes[17] = bytes[17]! ^ 0x55;
    await writeFile(part, bytes);
    await publishToS3(s3.client, BUCKET, PREFIX, local, 'v7');
    await waitFor('refusal of v7', async () =>
      sidecar.logs.some(
        (l) => l.cause === 'checksum' && String(l.err).includes('v7/part-00002.embeddings.bin'),
      ),
    );
    expect(await current('snapshot')).toBe('v6');
    const entries = await readdir(path.join(dataDir, 'snapshot'));
    expect(entries.filter((e) => e.startsWith('.tmp-') || e === 'v7')).toEqual([]);
  });

  it('takes a multi-part version listed with block checksums; refuses one with a changed byte, naming the block', async () => {
    // 40 rows × 2 tasks × 8 dim × 4 bytes = 2560 bytes a part: blocks of 1024, the last 512 long
    const stored = await writeMultiPartVersion(local, 'v8', model.fingerprint, 3, 40, 30000, 1024);
    const want = await openSnapshot(stored);
    expect(want.manifest.files['part-00001.embeddings.bin']?.blocks?.sha256).toHaveLength(3);
    await publishToS3(s3.client, BUCKET, PREFIX, local, 'v8');
    await waitFor('current = v8', async () => (await current('snapshot')) === 'v8');
    const got = await openSnapshot(path.join(dataDir, 'snapshot/v8'), {
      expectedFingerprint: model.fingerprint,
    });
    expect(Buffer.from(got.embeddings!.buffer)).toEqual(Buffer.from(want.embeddings!.buffer));

    const dir = await writeMultiPartVersion(local, 'v9', model.fingerprint, 3, 40, 40000, 1024);
    const part = path.join(dir, 'part-00001.embeddings.bin');
    const bytes = await readFile(part);
    bytes[1024 + 500] = bytes[1024 + 500]! ^ 0x55;
    await writeFile(part, bytes);
    await publishToS3(s3.client, BUCKET, PREFIX, local, 'v9');
    await waitFor('refusal of v9', async () =>
      sidecar.logs.some(
        (l) =>
          l.cause === 'checksum' &&
          /v9\/part-00001\.embeddings\.bin: block 1 \(bytes 1024–2047\): sha256 [0-9a-f]{64}, manifest says/.test(
            String(l.err),
          ),
      ),
    );
    expect(await current('snapshot')).toBe('v8');
    const entries = await readdir(path.join(dataDir, 'snapshot'));
    expect(entries.filter((e) => e.startsWith('.tmp-') || e === 'v9')).toEqual([]);
  });
});
