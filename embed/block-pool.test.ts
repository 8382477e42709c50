// The block pool (block-pool.ts): blocks hashed by worker threads alone, by this thread alone,
// and by both, each result in its block's place; a block that differs, a block cut short by the
// end of the file and a file that is not there are reported as such, and stop the queue.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockPool, type BlockJob } from './block-pool.js';

const BLOCK = 1 << 20;
let dir: string;
let bytes: Buffer;
let jobs: BlockJob[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lightrank-block-pool-'));
  bytes = Buffer.from(Uint8Array.from({ length: 12 * BLOCK + 777 }, (_, i) => (i * 31 + (i >> 11)) & 0xff));
  await writeFile(join(dir, 'f'), bytes);
  jobs = [];
  for (let start = 0; start < bytes.length; start += BLOCK) {
    const end = Math.min(start + BLOCK, bytes.length);
    const sha256 = createHash('sha256').update(bytes.subarray(start, end)).digest('hex');
    jobs.push({ path: join(dir, 'f'), start, end, sha256 });
  }
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('BlockPool', () => {
  for (const [what, threads, workersOnly] of [
    ['two worker threads alone', 2, true],
    ['this thread alone', 1, false],
    ['this thread and two workers', 3, false],
  ] as const)
    it(`verifies every block with ${what}; reports the first that differs and stops`, async () => {
      const pool = BlockPool.start(threads, { workersOnly });
      try {
        const ok = await pool.verify(jobs);
        expect(ok).toEqual(jobs.map(() => ({ ok: true })));
        const bad = jobs.map((j, i) => (i === 5 ? { ...j, sha256: '0'.repeat(64) } : j));
        const results = await pool.verify(bad);
        expect(results[5]).toEqual({ ok: false, sha256: jobs[5]!.sha256, bytes: BLOCK });
        // the queue stopped: the blocks claimed after the failure are not hashed
        expect(results.filter((r) => r === undefined).length).toBeGreaterThan(0);
        const past = [{ ...jobs[12]!, end: jobs[12]!.start + BLOCK }];
        expect(await pool.verify(past)).toEqual([{ ok: false, sha256: jobs[12]!.sha256, bytes: 777 }]);
        const missing = await pool.verify([{ ...jobs[0]!, path: join(dir, 'nope') }]);
        expect(missing[0]).toMatchObject({ ok: false, error: { code: 'ENOENT' } });
      } finally {
        await pool.close();
      }
    }, 60_000);
});
