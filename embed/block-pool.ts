// Block checksums of local files verified on every core: the blocks (snapshot/blocks.ts) of every
// file go on one queue that this thread and the pool's worker threads pull from, each block read
// with positioned reads of its range and hashed where it was read. The publish step starts the
// pool first thing, so that the workers' start-up (20–30 ms each, measured) overlaps its manifest
// reads; the queue is an index in shared memory that every thread claims the next block from with
// an atomic add, so no thread waits for another to hand it work. The first block that differs (or
// cannot be read) stops the queue: blocks not yet claimed are skipped.
//
// API:
//   interface BlockJob { path: string; start: number; end: number; sha256: string }
//   type BlockResult = { ok: true } | { ok: false; sha256: string; bytes: number }
//     | { ok: false; error: { message: string; code?: string } } | undefined   (undefined: skipped)
//   class BlockPool {
//     static start(threads, { workersOnly? }): BlockPool   threads − 1 worker threads started now
//       (workersOnly, for tests: `threads` workers, none of the blocks hashed on this thread)
//     verify(jobs: BlockJob[]): Promise<BlockResult[]>   one verify at a time
//     stop(): void                                no block is claimed after this (in any verify)
//     close(): Promise<void>                      the workers end
//   }
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

export interface BlockJob {
  path: string;
  start: number;
  end: number;
  sha256: string;
}

export type BlockResult =
  | { ok: true }
  | { ok: false; sha256: string; bytes: number }
  | { ok: false; error: { message: string; code?: string } }
  | undefined;

/** Bytes read and hashed at a time within a block (a block is 8–32 MiB; this stays in cache). */
const CHUNK = 1 << 20;

/** The worker's code (CommonJS, evaluated: runs the same from sources and from dist/). */
const WORKER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const CHUNK = ${CHUNK};
const buf = Buffer.allocUnsafe(CHUNK);
parentPort.on('message', ({ jobs, shared }) => {
  const ctl = new Int32Array(shared);
  const fds = new Map();
  try {
    for (;;) {
      if (Atomics.load(ctl, 1) !== 0) break;
      const i = Atomics.add(ctl, 0, 1);
      if (i >= jobs.length) break;
      const job = jobs[i];
      let reply;
      try {
        let fd = fds.get(job.path);
        if (fd === undefined) fds.set(job.path, (fd = openSync(job.path, 'r')));
        const hash = createHash('sha256');
        let at = job.start;
        while (at < job.end) {
          const n = readSync(fd, buf, 0, Math.min(CHUNK, job.end - at), at);
          if (n === 0) break;
          hash.update(n === CHUNK ? buf : buf.subarray(0, n));
          at += n;
        }
        const sha256 = hash.digest('hex');
        const bytes = at - job.start;
        reply = bytes === job.end - job.start && sha256 === job.sha256 ? { ok: true } : { ok: false, sha256, bytes };
      } catch (e) {
        reply = { ok: false, error: { message: e.message, code: e.code } };
      }
      if (!reply.ok) Atomics.store(ctl, 1, 1);
      parentPort.postMessage({ i, reply });
    }
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
  parentPort.postMessage({ done: true });
});
`;

type Message = { i: number; reply: BlockResult } | { done: true };

export class BlockPool {
  private ctl?: Int32Array;
  private stopped = false;

  private constructor(
    private readonly workers: Worker[],
    private readonly here: boolean,
  ) {}

  /**
   * Starts threads − 1 worker threads now; this thread is the other one. `workersOnly` (tests):
   * `threads` workers, and this thread hashes nothing.
   */
  static start(threads: number, opts: { workersOnly?: boolean } = {}): BlockPool {
    const n = Math.max(opts.workersOnly ? 1 : 0, Math.floor(threads) - (opts.workersOnly ? 0 : 1));
    const workers = Array.from({ length: n }, () => new Worker(WORKER, { eval: true }));
    return new BlockPool(workers, !opts.workersOnly);
  }

  /** No block is claimed after this, in this verify or a later one. */
  stop(): void {
    this.stopped = true;
    if (this.ctl) Atomics.store(this.ctl, 1, 1);
  }

  async verify(jobs: BlockJob[]): Promise<BlockResult[]> {
    const shared = new SharedArrayBuffer(8);
    const ctl = (this.ctl = new Int32Array(shared)); // [next block, stopped]
    if (this.stopped) Atomics.store(ctl, 1, 1);
    const results: BlockResult[] = new Array<BlockResult>(jobs.length).fill(undefined);
    const plain = jobs.map(({ path, start, end, sha256 }) => ({ path, start, end, sha256 }));
    const workers = this.workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          const onMessage = (m: Message) => {
            if ('done' in m) {
              w.off('message', onMessage);
              w.off('error', reject);
              resolve();
            } else results[m.i] = m.reply;
          };
          w.on('message', onMessage);
          w.once('error', reject);
          w.postMessage({ jobs: plain, shared });
        }),
    );
    await Promise.all([this.here ? this.pull(jobs, ctl, results) : undefined, ...workers]);
    return results;
  }

  /** This thread's share: blocks claimed from the same queue, read and hashed here. */
  private async pull(jobs: BlockJob[], ctl: Int32Array, results: BlockResult[]): Promise<void> {
    const buf = Buffer.allocUnsafe(CHUNK);
    const files = new Map<string, Awaited<ReturnType<typeof open>>>();
    try {
      for (;;) {
        if (Atomics.load(ctl, 1) !== 0) return;
        const i = Atomics.add(ctl, 0, 1);
        if (i >= jobs.length) return;
        const job = jobs[i]!;
        let reply: BlockResult;
        try {
          let fh = files.get(job.path);
          if (!fh) files.set(job.path, (fh = await open(job.path, 'r')));
          const hash = createHash('sha256');
          let at = job.start;
          while (at < job.end) {
            const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, job.end - at), at);
            if (bytesRead === 0) break;
            hash.update(bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead));
            at += bytesRead;
          }
          const sha256 = hash.digest('hex');
          const bytes = at - job.start;
          reply =
            bytes === job.end - job.start && sha256 === job.sha256
              ? { ok: true }
              : { ok: false, sha256, bytes };
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          reply = { ok: false, error: { message: err.message, ...(err.code ? { code: err.code } : {}) } };
        }
        if (!reply.ok) Atomics.store(ctl, 1, 1);
        results[i] = reply;
      }
    } finally {
      for (const fh of files.values()) await fh.close();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
