// The build's S3 store against a real S3 server (moto on loopback): a file above the single-request
// limit goes as a multipart upload and is placed by a multipart server-side copy, byte for byte
// (limits set small here: S3's are 5 GiB per request and 5 MiB per part); below it, one request.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../test/sidecar/helpers/s3-server.js';
import { openStore } from './store.js';

const MiB = 1024 ** 2;
const BUCKET = 'store-test';
let s3: S3Server;
let dir: string;
const saved = { ...process.env };

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
  Object.assign(process.env, s3.env); // the store reads the SDK's variables, as in a build pod
  dir = await mkdtemp(join(tmpdir(), 'lightrank-store-'));
}, 120_000);
afterAll(async () => {
  process.env = saved;
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const bytesOf = async (key: string) =>
  Buffer.from(
    await (
      await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
    ).Body!.transformToByteArray(),
  );
const etagOf = async (key: string) =>
  (await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag ?? '';

describe('the S3 store', () => {
  it('uploads and places a large file in parts, a small one in one request, byte for byte', async () => {
    const store = openStore(`s3://${BUCKET}/snap`, { singleRequestBytes: 6 * MiB, partBytes: 5 * MiB });
    try {
      const big = randomBytes(12 * MiB + 123);
      await writeFile(join(dir, 'big'), big);
      await store.upload(join(dir, 'big'), '.staging/v1/part-00000/embeddings.bin');
      expect((await bytesOf('snap/.staging/v1/part-00000/embeddings.bin')).equals(big)).toBe(true);
      // a multipart object's ETag ends in -<parts>: 5 + 5 + 2 MiB
      expect(await etagOf('snap/.staging/v1/part-00000/embeddings.bin')).toMatch(/-3"?$/);
      await store.place('.staging/v1/part-00000/embeddings.bin', 'v1/part-00000.embeddings.bin');
      expect((await bytesOf('snap/v1/part-00000.embeddings.bin')).equals(big)).toBe(true);
      expect(await etagOf('snap/v1/part-00000.embeddings.bin')).toMatch(/-3"?$/);

      const small = randomBytes(1 * MiB);
      await writeFile(join(dir, 'small'), small);
      await store.upload(join(dir, 'small'), 'small.bin');
      await store.place('small.bin', 'small-2.bin');
      expect((await bytesOf('snap/small-2.bin')).equals(small)).toBe(true);
      expect(await etagOf('snap/small-2.bin')).not.toMatch(/-\d+"?$/);
      expect(await store.exists('small-2.bin')).toBe(true);
      expect(await store.exists('nothing.bin')).toBe(false);
    } finally {
      store.close();
    }
  }, 120_000);
});
