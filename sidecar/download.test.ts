import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadToFile, fetchSmall, type TransferLimits } from './download.js';
import { RefusedError, SourceError } from './errors.js';
import { openSource, type Source } from './sources/index.js';

// A real HTTP server on loopback: /ok (1 MB), /broken (announces 1 MB, sends 1 KB, hangs up),
// /chunked (1 MB, no Content-Length), /hang (1 KB, then nothing), /trickle (a byte every 20 ms),
// /silent (never answers), /early (announces 1 MB, sends 1000 bytes, hangs up at once).
const body = Buffer.alloc(1 << 20, 7);
const fast: TransferLimits = { stallMs: 300, minBytesPerSecond: 10_000, rateWindowMs: 500 };

describe('downloadToFile', () => {
  let server: Server;
  let dir: string;
  let source: Source;
  let n = 0;
  const dest = () => path.join(dir, `f${n++}`);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lightrank-download-'));
    server = createServer((req, res) => {
      if (req.url === '/silent') return;
      if (req.url === '/early') {
        req.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`);
        return void req.socket.end(body.subarray(0, 1000));
      }
      if (req.url === '/chunked') return void res.writeHead(200).end(body);
      if (req.url === '/trickle') {
        res.writeHead(200);
        const timer = setInterval(() => res.write('x'), 20);
        res.on('close', () => clearInterval(timer));
        return;
      }
      res.writeHead(200, { 'content-length': body.length, etag: '"e1"' });
      if (req.url === '/broken') {
        res.write(body.subarray(0, 1024));
        setTimeout(() => res.destroy(), 20);
      } else if (req.url === '/hang') res.write(body.subarray(0, 1024));
      else res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    source = openSource(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('streams to the file, returning length, sha256 and etag, counting bytes', async () => {
    const file = dest();
    let counted = 0;
    const got = await downloadToFile(source, 'ok', file, {
      expectedBytes: body.length,
      onBytes: (b) => (counted += b),
    });
    expect(got).toEqual({
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
      etag: '"e1"',
    });
    expect(counted).toBe(body.length);
    expect((await readFile(file)).equals(body)).toBe(true);
  });

  it('refuses an announced length that disagrees with the manifest before reading', async () => {
    const longer = dest();
    await expect(downloadToFile(source, 'ok', longer, { expectedBytes: 1000 })).rejects.toMatchObject({
      refusal: 'size',
      message: expect.stringContaining('announces 1048576 bytes, the manifest says 1000'),
    });
    await expect(stat(longer)).rejects.toMatchObject({ code: 'ENOENT' }); // nothing written
    const err = await downloadToFile(source, 'ok', dest(), { expectedBytes: body.length + 1 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(RefusedError);
    expect(err.refusal).toBe('truncated');
  });

  it('stops reading an unannounced body one chunk past the manifest, writing no more than it', async () => {
    const file = dest();
    await expect(downloadToFile(source, 'chunked', file, { expectedBytes: 1000 })).rejects.toMatchObject({
      refusal: 'size',
      message: expect.stringContaining('more than the 1000 bytes the manifest says'),
    });
    expect((await stat(file)).size).toBeLessThanOrEqual(1000);
    await expect(
      downloadToFile(source, 'chunked', dest(), { maxBytes: 4096, maxBytesWhat: 'the cap' }),
    ).rejects.toMatchObject({ refusal: 'too_large', message: expect.stringContaining('more than the cap') });
    await expect(downloadToFile(source, 'ok', dest(), { maxBytes: 4096 })).rejects.toMatchObject({
      refusal: 'too_large',
      message: expect.stringContaining('announces 1048576 bytes'),
    });
  });

  it('reports a body that breaks off as an interrupted source, not a local error', async () => {
    const err = await downloadToFile(source, 'broken', dest()).catch((e) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err.code).toBe('interrupted');
    expect(err.message).toContain('broke off');
  });

  it('survives a body that breaks off before anyone reads it (no uncaught error)', async () => {
    const res = await source.get('early');
    if (res.notModified) throw new Error('unexpected 304');
    await new Promise((r) => setTimeout(r, 100)); // the server hangs up meanwhile
    const read = async () => {
      for await (const chunk of res.body) void chunk;
    };
    await expect(read()).rejects.toThrow(/terminated|closed/);
    const err = await downloadToFile(source, 'early', dest()).catch((e) => e);
    expect(err).toMatchObject({ code: 'interrupted' });
  });

  it('aborts a transfer that stalls, one that never answers, and one that trickles', async () => {
    const t0 = performance.now();
    await expect(downloadToFile(source, 'hang', dest(), { limits: fast })).rejects.toMatchObject({
      code: 'stalled',
      message: expect.stringContaining('no byte for 0.3 s'),
    });
    await expect(downloadToFile(source, 'silent', dest(), { limits: fast })).rejects.toMatchObject({
      code: 'stalled',
    });
    await expect(downloadToFile(source, 'trickle', dest(), { limits: fast })).rejects.toMatchObject({
      code: 'too_slow',
      message: expect.stringContaining('under the floor of 10000 bytes/s'),
    });
    await expect(
      fetchSmall(source, 'trickle', { maxBytes: 1024, cause: 'bad_version', limits: fast }),
    ).rejects.toMatchObject({ code: 'too_slow' });
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('never overwrites an existing file', async () => {
    const file = dest();
    await downloadToFile(source, 'ok', file);
    await expect(downloadToFile(source, 'ok', file)).rejects.toMatchObject({ name: 'LocalWriteError' });
  });

  it('caps small objects, refusing an announced length over the cap unread', async () => {
    await expect(fetchSmall(source, 'ok', { maxBytes: 1024, cause: 'manifest' })).rejects.toMatchObject({
      refusal: 'manifest',
      message: expect.stringContaining('announces 1048576 bytes'),
    });
    await expect(
      fetchSmall(source, 'chunked', { maxBytes: 1024, cause: 'bad_version' }),
    ).rejects.toMatchObject({
      refusal: 'bad_version',
      message: expect.stringContaining('larger than 1024 bytes'),
    });
    expect(await fetchSmall(source, 'ok', { maxBytes: body.length, cause: 'manifest' })).toMatchObject({
      notModified: false,
      etag: '"e1"',
    });
  });
});
