// What every source refuses on its own, whoever calls it: keys that could leave the root or
// prefix (file://, http://, s3://, refused before storage is asked), and for http(s) the
// redirects it will not follow (too many, to another scheme, with credentials, off-origin) and
// the credentials it never forwards or shows. Against the hostile storage server on loopback.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadToFile, fetchSmall } from '../../sidecar/download.js';
import { RefusedError, SourceError } from '../../sidecar/errors.js';
import { openSource, type Source } from '../../sidecar/sources/index.js';
import { HostileStorage, misbehave } from './helpers/hostile-storage.js';

const BAD_KEYS = ['..', '../x', 'v1/../../x', 'a//b', '/abs', 'a/./b', 'x\u0000', 'a\\b', 'v1/', ''];

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('source safety', () => {
  let dir: string;
  let http: HostileStorage;
  let other: HostileStorage;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lightrank-source-safety-'));
    await mkdir(path.join(dir, 'prefix'), { recursive: true });
    await writeFile(path.join(dir, 'prefix/obj'), 'hello');
    await writeFile(path.join(dir, 'secret'), 'outside the prefix');
    http = new HostileStorage(dir);
    other = new HostileStorage(dir);
    await http.start();
    await other.start();
  });
  afterAll(async () => {
    await http?.stop();
    await other?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const sources = (): Record<string, Source> => ({
    file: openSource(pathToFileURL(path.join(dir, 'prefix')).href),
    http: openSource(`${http.url}/prefix`),
    s3: openSource('s3://bucket/prefix', { s3: { forcePathStyle: true } }),
  });

  it.each(BAD_KEYS)('every source refuses the key %j (unsafe_path) before asking storage', async (key) => {
    const before = http.requests.length;
    for (const [scheme, source] of Object.entries(sources())) {
      const err = await failure(source.get(key));
      expect(err, scheme).toBeInstanceOf(RefusedError);
      expect((err as RefusedError).refusal, scheme).toBe('unsafe_path');
      source.close();
    }
    expect(http.requests.length).toBe(before);
  });

  it('http: more than 5 redirects is a redirect_loop; a loop is one too', async () => {
    for (let i = 0; i < 8; i++) http.on(`/prefix/hop${i}`, misbehave.redirect(`/prefix/hop${i + 1}`));
    http
      .on('/prefix/loop', misbehave.redirect('/prefix/loop2'))
      .on('/prefix/loop2', misbehave.redirect('/prefix/loop'));
    const source = openSource(`${http.url}/prefix`);
    const chain = await failure(source.get('hop0'));
    expect(chain).toBeInstanceOf(SourceError);
    expect(chain).toMatchObject({
      code: 'redirect_loop',
      message: expect.stringContaining('more than 5 redirects'),
    });
    expect(await failure(source.get('loop'))).toMatchObject({ code: 'redirect_loop' });
    http.clear();
  });

  it('http: a redirect to another scheme, or with credentials in it, is refused (unsafe_redirect)', async () => {
    http.on('/prefix/scheme', misbehave.redirect('file:///etc/passwd'));
    http.on('/prefix/creds', misbehave.redirect(`http://user:pw@127.0.0.1:${http.port}/prefix/obj`));
    const source = openSource(`${http.url}/prefix`);
    expect(await failure(source.get('scheme'))).toMatchObject({ refusal: 'unsafe_redirect' });
    expect(await failure(source.get('creds'))).toMatchObject({
      refusal: 'unsafe_redirect',
      message: expect.stringContaining('with credentials in the URL'),
    });
    http.clear();
  });

  it('http: credentials in the URI go to its origin only, and never into uri or messages', async () => {
    http.on('/prefix/away', misbehave.redirect(`${other.url}/prefix/obj`));
    const source = openSource(`http://me:hunter2@127.0.0.1:${http.port}/prefix`, {
      http: { redirectOrigins: [other.url] },
    });
    expect(source.uri).toBe(`${http.url}/prefix`);
    const res = await source.get('away');
    if (res.notModified) throw new Error('unexpected 304');
    res.body.destroy();
    const basic = `Basic ${Buffer.from('me:hunter2').toString('base64')}`;
    expect(http.requests.at(-1)!.headers.authorization).toBe(basic);
    expect(other.requests.at(-1)!.headers.authorization).toBeUndefined();
    const missing = await failure(source.get('nothing-here'));
    expect(missing.message).not.toContain('hunter2');
    http.clear();
  });

  it('http: an Authorization value (LIGHTRANK_HTTP_AUTHORIZATION) is sent to the origin only', async () => {
    http.on('/prefix/away', misbehave.redirect(`${other.url}/prefix/obj`));
    const source = openSource(`${http.url}/prefix`, {
      http: { authorization: 'Bearer t0ken', redirectOrigins: [other.url] },
    });
    const res = await source.get('away');
    if (!res.notModified) res.body.destroy();
    expect(http.requests.at(-1)!.headers.authorization).toBe('Bearer t0ken');
    expect(other.requests.at(-1)!.headers.authorization).toBeUndefined();
    http.clear();
  });

  it('http: no content coding is asked for, so a length is the object length', async () => {
    const source = openSource(`${http.url}/prefix`);
    const res = await source.get('obj');
    if (res.notModified) throw new Error('unexpected 304');
    res.body.destroy();
    expect(http.requests.at(-1)!.headers['accept-encoding']).toBe('identity');
    expect(res.size).toBe(5);
  });

  it('s3: a body that stalls, trickles, runs on or lies about its length is bounded like any other', async () => {
    // The storage server stands in for an S3 endpoint (path style: GET /<bucket>/<key>).
    await mkdir(path.join(dir, 'bucket/prefix'), { recursive: true });
    await writeFile(path.join(dir, 'bucket/prefix/obj'), Buffer.alloc(4096, 1));
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: http.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    const source = openSource('s3://bucket/prefix', { s3: { forcePathStyle: true, headerTimeoutMs: 300 } });
    const limits = { stallMs: 300, minBytesPerSecond: 2000, rateWindowMs: 400 };
    const dest = (name: string) => path.join(dir, `s3-${name}`);
    try {
      http.on('/bucket/prefix/obj', misbehave.stopsAfter(100, 'hang'));
      expect(
        await failure(downloadToFile(source, 'obj', dest('hang'), { expectedBytes: 4096, limits })),
      ).toMatchObject({ code: 'stalled' });
      http.on('/bucket/prefix/obj', misbehave.trickle(50));
      expect(
        await failure(downloadToFile(source, 'obj', dest('slow'), { expectedBytes: 4096, limits })),
      ).toMatchObject({ code: 'too_slow' });
      http.on('/bucket/prefix/obj', misbehave.endless());
      expect(
        await failure(downloadToFile(source, 'obj', dest('endless'), { expectedBytes: 4096, limits })),
      ).toMatchObject({ refusal: 'size' });
      http.on('/bucket/prefix/obj', misbehave.lyingLength(1 << 30));
      expect(
        await failure(downloadToFile(source, 'obj', dest('lie'), { expectedBytes: 4096, limits })),
      ).toMatchObject({
        refusal: 'size',
        message: expect.stringContaining('announces 1073741824 bytes'),
      });
      http.on('/bucket/prefix/LATEST', () => undefined); // never answers
      expect(
        await failure(fetchSmall(source, 'LATEST', { maxBytes: 1024, cause: 'bad_version', limits })),
      ).toMatchObject({ code: 'stalled' });
    } finally {
      http.clear();
      source.close();
      process.env = saved;
    }
  });
});
