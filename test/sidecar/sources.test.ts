// The three source modules against real servers on loopback — a directory (file://), a node:http
// server with ETags (http://) and moto (s3://) — held to the same contract: get → bytes + etag,
// If-None-Match with that etag → notModified, a missing key → SourceError not_found, a server
// that is down → SourceError unavailable.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../sidecar/errors.js';
import { openObject, openSource, type Source } from '../../sidecar/sources/index.js';
import { HttpDirServer } from './helpers/http-dir-server.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';

const BUCKET = 'lightrank-sources';

async function text(source: Source, key: string, ifNoneMatch?: string) {
  const res = await source.get(key, { ifNoneMatch });
  if (res.notModified) return { notModified: true as const };
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return {
    notModified: false as const,
    body: Buffer.concat(chunks).toString(),
    etag: res.etag,
    size: res.size,
  };
}

async function errorOf(p: Promise<unknown>): Promise<SourceError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SourceError);
    return err as SourceError;
  }
  throw new Error('expected a SourceError');
}

describe('storage sources', () => {
  let dir: string;
  let http: HttpDirServer;
  let s3: S3Server;
  const sources: Record<string, () => Source> = {};

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lightrank-sources-'));
    await mkdir(path.join(dir, 'prefix/v1'), { recursive: true });
    await writeFile(path.join(dir, 'prefix/v1/manifest.json'), '{"hello":"world"}');
    http = new HttpDirServer(dir);
    await http.start();
    s3 = await startS3Server();
    await s3.createBucket(BUCKET);
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'prefix/v1/manifest.json', Body: '{"hello":"world"}' }),
    );
    Object.assign(process.env, s3.env);
    sources.file = () => openSource(pathToFileURL(path.join(dir, 'prefix')).href);
    sources.http = () => openSource(`${http.url}/prefix`);
    sources.s3 = () => openSource(`s3://${BUCKET}/prefix`, { s3: { forcePathStyle: true } });
  });

  afterAll(async () => {
    await http?.stop();
    await s3?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const scheme of ['file', 'http', 's3']) {
    describe(scheme, () => {
      it('gets an object with its etag and size, and answers notModified to that etag', async () => {
        const source = sources[scheme]!();
        const first = await text(source, 'v1/manifest.json');
        expect(first).toMatchObject({ notModified: false, body: '{"hello":"world"}', size: 17 });
        if (first.notModified) return;
        expect(first.etag).toMatch(/^"[^"]+"$/);
        expect(await text(source, 'v1/manifest.json', first.etag)).toEqual({ notModified: true });
        expect(await text(source, 'v1/manifest.json', '"other"')).toMatchObject({ notModified: false });
        source.close();
      });

      it('reports a missing key as not_found', async () => {
        const source = sources[scheme]!();
        const err = await errorOf(source.get('v9/manifest.json'));
        expect(err.code).toBe('not_found');
        expect(err.message).toContain('v9/manifest.json');
        source.close();
      });
    });
  }

  it('reports a server that is down as unavailable (http, s3)', async () => {
    const httpDown = openSource('http://127.0.0.1:9/prefix');
    expect((await errorOf(httpDown.get('LATEST'))).code).toBe('unavailable');
    // The SDK reads the endpoint variable when the first request resolves its endpoint.
    const saved = process.env.AWS_ENDPOINT_URL_S3;
    process.env.AWS_ENDPOINT_URL_S3 = 'http://127.0.0.1:9';
    const s3Down = openSource(`s3://${BUCKET}/prefix`, { s3: { forcePathStyle: true } });
    try {
      expect((await errorOf(s3Down.get('LATEST'))).code).toBe('unavailable');
    } finally {
      process.env.AWS_ENDPOINT_URL_S3 = saved;
    }
    s3Down.close();
  });

  it('splits an object URI into its parent source and key', () => {
    const { source, key } = openObject('s3://bucket/models/ads/query.onnx');
    expect(key).toBe('query.onnx');
    expect(source.uri).toBe('s3://bucket/models/ads');
    source.close();
    expect(() => openSource('ftp://host/x')).toThrow(/unsupported storage URI/);
    expect(() => openObject('s3://bucket/')).toThrow(/does not name an object/);
  });
});
