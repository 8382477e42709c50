import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from './sha256.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lightrank-sha256-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sha256File (hashed in a worker thread)', () => {
  it('agrees with node:crypto over several read chunks, and on an empty file', async () => {
    const data = Buffer.alloc((3 << 20) + 12345);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    await writeFile(join(dir, 'a.bin'), data);
    await writeFile(join(dir, 'empty.bin'), '');
    expect(await sha256File(join(dir, 'a.bin'))).toEqual({
      sha256: createHash('sha256').update(data).digest('hex'),
      bytes: data.length,
    });
    expect(await sha256File(join(dir, 'empty.bin'))).toEqual({
      sha256: createHash('sha256').digest('hex'),
      bytes: 0,
    });
  });

  it("rejects with the file system's error code", async () => {
    await expect(sha256File(join(dir, 'missing.bin'))).rejects.toMatchObject({
      code: 'ENOENT',
      message: expect.stringContaining('missing.bin'),
    });
  });
});
