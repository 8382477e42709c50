// `lightrank embed` as a real process: stopped by SIGTERM mid-shard it exits promptly (143) and
// leaves no part behind; shards stage their parts on a real S3 server (moto on loopback) and the
// publish step checks them there, writes the version and moves LATEST last; a partial or bad
// build leaves LATEST where it was.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTowers, type TowerFiles } from '../modelkit/bundle.js';
import { writeParquetCatalogue } from '../modelkit/catalogue-parquet.js';
import { modelConfig } from '../modelkit/config.js';
import { openSnapshot } from '../snapshot/reader.js';
import { startS3Server, type S3Server } from '../test/sidecar/helpers/s3-server.js';
import { putFile } from '../test/sidecar/helpers/s3-publish.js';

const run = promisify(execFile);
const MAIN = join(import.meta.dirname, 'main.ts');
const config = modelConfig({ seed: 11 });
const shape = { numDense: config.item.numDense, numCategorical: config.item.numCategorical };
let root: string;
let towers: TowerFiles;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-embed-main-'));
  towers = await buildTowers({ dir: join(root, 'model'), config });
}, 120_000);
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const embed = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, ...env } });

describe('embed shard, stopped by SIGTERM', () => {
  it('stops at the next batch, exits 143 and leaves no part', async () => {
    const catalogue = join(root, 'big');
    await writeParquetCatalogue({ dir: catalogue, items: 120_000, seed: 3, shape, files: 2 });
    const prefix = join(root, 'stopped');
    const part = join(prefix, '.staging', 'v1', 'part-00000');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        'shard',
        '--catalogue',
        catalogue,
        '--item-model',
        towers.itemModel,
        '--prefix',
        prefix,
        '--version',
        'v1',
        '--shards',
        '1',
        '--index',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // mid-run: the part's embeddings have begun to be written
    const deadline = Date.now() + 60_000;
    for (;;) {
      const size = await stat(join(part, 'embeddings.bin')).then(
        (s) => s.size,
        () => 0,
      );
      if (size > 0) break;
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`the shard never wrote its part: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const sent = performance.now();
    child.kill('SIGTERM');
    const code = await exited;
    const took = performance.now() - sent;
    expect(code).toBe(143);
    // promptly: well within the Job's 30 s grace, and not by the 10 s stop deadline
    expect(took).toBeLessThan(8_000);
    expect(stderr).toContain('embed: SIGTERM: stopping');
    expect(stderr).toContain('embed: stopped by SIGTERM: nothing of this run is left looking complete');
    expect(stderr).not.toContain('without finishing');
    // nothing half-written is left: no manifest, no data files
    expect(await readdir(part)).toEqual([]);
  }, 120_000);
});

describe('a build staged and published on S3', () => {
  let s3: S3Server;
  const BUCKET = 'embed-main';
  beforeAll(async () => {
    s3 = await startS3Server();
    await s3.createBucket(BUCKET);
    const files = await writeParquetCatalogue({
      dir: join(root, 's3-catalogue'),
      items: 6_000,
      seed: 5,
      shape,
      files: 2,
      rowGroupSize: 1000,
    });
    for (const f of files) await putFile(s3.client, BUCKET, `catalogue/${f.split('/').pop()}`, f);
  }, 120_000);
  afterAll(async () => {
    await s3?.stop();
  });

  const object = async (key: string) => {
    const res = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return res.Body!.transformToString();
  };
  const keys = async (prefix: string) =>
    ((await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? [])
      .map((o) => o.Key!)
      .sort();
  const shard = (prefix: string, version: string, shards: number, index: number) =>
    embed(
      [
        'shard',
        '--catalogue',
        `s3://${BUCKET}/catalogue`,
        '--item-model',
        towers.itemModel,
        '--fingerprint',
        towers.fingerprint,
        '--prefix',
        prefix,
        '--version',
        version,
        '--shards',
        String(shards),
        '--index',
        String(index),
      ],
      s3.env,
    );
  const publish = (prefix: string, version: string, shards: number) =>
    embed(
      [
        'publish',
        '--prefix',
        prefix,
        '--version',
        version,
        '--shards',
        String(shards),
        '--fingerprint',
        towers.fingerprint,
      ],
      s3.env,
    );

  it('stages parts under .staging, publishes the version, moves LATEST last, removes the staging', async () => {
    const prefix = `s3://${BUCKET}/snapshots/ads`;
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'snapshots/ads/LATEST', Body: 'old\n' }),
    );
    const out = await Promise.all([0, 1, 2].map((i) => shard(prefix, 'v1', 3, i)));
    expect(out[1]!.stdout).toContain(`to ${prefix}/.staging/v1/part-00001`);
    expect(await keys('snapshots/ads/.staging/v1/part-00001/')).toEqual(
      ['embeddings.bin', 'ids.u64', 'manifest.json'].map((n) => `snapshots/ads/.staging/v1/part-00001/${n}`),
    );
    // staged, not published
    expect((await object('snapshots/ads/LATEST')).trim()).toBe('old');

    const published = await publish(prefix, 'v1', 3);
    expect(published.stdout).toContain('published v1: 6000 items from 3 parts');
    expect((await object('snapshots/ads/LATEST')).trim()).toBe('v1');
    expect(await keys('snapshots/ads/.staging/')).toEqual([]);
    expect(await keys('snapshots/ads/v1/')).toEqual(
      [
        'manifest.json',
        'part-00000.embeddings.bin',
        'part-00000.ids.u64',
        'part-00001.embeddings.bin',
        'part-00001.ids.u64',
        'part-00002.embeddings.bin',
        'part-00002.ids.u64',
      ].map((n) => `snapshots/ads/v1/${n}`),
    );
    // what S3 holds reads as one snapshot of every item
    const local = join(root, 'from-s3', 'v1');
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(local, { recursive: true });
    for (const key of await keys('snapshots/ads/v1/')) {
      const res = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      await writeFile(join(local, key.split('/').pop()!), await res.Body!.transformToByteArray());
    }
    const snap = await openSnapshot(local);
    expect(snap.rows).toBe(6000);
    expect(snap.manifest.parts).toHaveLength(3);
    expect(snap.manifest.towerFingerprint).toBe(towers.fingerprint);
  }, 180_000);

  it('a publish removes the staged parts of builds that started before it and never published', async () => {
    const prefix = `s3://${BUCKET}/snapshots/gc`;
    const [failed, ours, later] = [
      '20261205T010000Z-aaaaaaaa',
      '20261206T010000Z-bbbbbbbb',
      '20261207T010000Z-cccccccc',
    ];
    // a failed build's part (shard 1 of 2 never finished), a build started after ours, a hand-named one
    await shard(prefix, failed, 2, 0);
    await shard(prefix, later, 2, 0);
    await shard(prefix, 'by-hand', 2, 0);
    await shard(prefix, ours, 1, 0);
    const out = await publish(prefix, ours, 1);
    expect(out.stdout).toContain(`removed ${prefix}/.staging/${failed}: a build that never published`);
    expect((await object('snapshots/gc/LATEST')).trim()).toBe(ours);
    const left = await keys('snapshots/gc/.staging/');
    expect(left.filter((k) => k.includes(failed) || k.includes(ours))).toEqual([]);
    expect(left.filter((k) => k.includes(later))).toHaveLength(3);
    expect(left.filter((k) => k.includes('by-hand'))).toHaveLength(3);
  }, 180_000);

  it('a missing part, a tampered part: publish exits 2 naming the part; LATEST unmoved', async () => {
    const prefix = `s3://${BUCKET}/snapshots/bad`;
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'snapshots/bad/LATEST', Body: 'old\n' }),
    );
    await shard(prefix, 'v2', 2, 0);
    // shard 1 never finished
    const missing = await publish(prefix, 'v2', 2).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(missing?.code).toBe(2);
    expect(missing?.stderr).toMatch(
      /embed: part 1 \(s3:\/\/embed-main\/snapshots\/bad\/\.staging\/v2\/part-00001\): no manifest\.json: the shard did not finish its part/,
    );
    // shard 1's embeddings replaced after its manifest was written
    await shard(prefix, 'v2', 2, 1);
    await s3.client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'snapshots/bad/.staging/v2/part-00001/embeddings.bin',
        Body: Buffer.alloc(16),
      }),
    );
    const tampered = await publish(prefix, 'v2', 2).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(tampered?.code).toBe(2);
    expect(tampered?.stderr).toMatch(/part 1 \(.*\): embeddings\.bin: 16 bytes, its manifest says \d+/);
    expect((await object('snapshots/bad/LATEST')).trim()).toBe('old');
    expect(await keys('snapshots/bad/v2/')).toEqual([]);
  }, 180_000);

  it('a superseded build does not move LATEST back: publish exits 2, named; a retry of LATEST’s own goes on', async () => {
    const prefix = `s3://${BUCKET}/snapshots/order`;
    const [older, newer] = ['20261206T010000Z-aaaaaaaa', '20261206T020000Z-bbbbbbbb'];
    // the older build's shard ran, then the newer build ran and published first
    await shard(prefix, older, 1, 0);
    await shard(prefix, newer, 1, 0);
    await publish(prefix, newer, 1);
    expect((await object('snapshots/order/LATEST')).trim()).toBe(newer);
    const refused = await publish(prefix, older, 1).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toContain(
      `embed: superseded: ${prefix}/LATEST names ${newer}, a build that started after ${older}; ` +
        `publishing ${older} would move LATEST back to an older snapshot, so it does not`,
    );
    expect((await object('snapshots/order/LATEST')).trim()).toBe(newer);
    expect(await keys(`snapshots/order/${older}/`)).toEqual([]);
    // the version LATEST names, published again (a retried publish Job), is no step back
    await shard(prefix, newer, 1, 0);
    const again = await publish(prefix, newer, 1);
    expect(again.stdout).toContain(`published ${newer}`);
    expect((await object('snapshots/order/LATEST')).trim()).toBe(newer);
  }, 180_000);

  it('storage it cannot reach is retryable (exit 1), named', async () => {
    const err = await embed(
      [
        'publish',
        '--prefix',
        's3://no-such-bucket/x',
        '--version',
        'v1',
        '--shards',
        '1',
        '--fingerprint',
        'fp',
      ],
      s3.env,
    ).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    // the first thing publish reads is LATEST (embed/latest-order.ts)
    expect(err?.stderr).toMatch(/s3:\/\/no-such-bucket\/x\/LATEST: NoSuchBucket/);
  }, 60_000);
});
