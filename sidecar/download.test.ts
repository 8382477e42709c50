import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadToFile, fetchSmall } from './download.js';
import { RefusedError, SourceError } from './errors.js';
import { openSource, type Source } from './sources/index.js';

// A real HTTP server on loopback: /ok (1 MB), /broken (announces 1 MB, sends 1 KB, hangs up).
const body = Buffer.alloc(1 << 20, 7);

describe('downloadToFile', () => {
  let server: Server;
  let dir: string;
  let source: Source;
  let n = 0;
  const dest = () => path.join(dir, `f${n++}`);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lightrank-download-'));
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-length': body.length, etag: '"e1"' });
      if (req.url === '/broken') {
        res.write(body.subarray(0, 1024));
        setTimeout(() => res.destroy(), 20);
      } else res.end(body);
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

  it('refuses an object longer or shorter than announced as truncated', async () => {
    await expect(downloadToFile(source, 'ok', dest(), { expectedBytes: 1000 })).rejects.toMatchObject({
      refusal: 'truncated',
      message: expect.stringContaining('longer than the 1000 bytes'),
    });
    const err = await downloadToFile(source, 'ok', dest(), { expectedBytes: body.length + 1 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(RefusedError);
    expect(err.refusal).toBe('truncated');
  });

  it('reports a body that breaks off as a source error, not a local one', async () => {
    const err = await downloadToFile(source, 'broken', dest()).catch((e) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err.code).toBe('unavailable');
    expect(err.message).toContain('broke off');
  });

  it('never overwrites an existing file', async () => {
    const file = dest();
    await downloadToFile(source, 'ok', file);
    await expect(downloadToFile(source, 'ok', file)).rejects.toMatchObject({ name: 'LocalWriteError' });
  });

  it('caps small objects', async () => {
    await expect(fetchSmall(source, 'ok', 1024)).rejects.toMatchObject({ refusal: 'manifest' });
    expect(await fetchSmall(source, 'ok', body.length)).toMatchObject({ notModified: false, etag: '"e1"' });
  });
});
