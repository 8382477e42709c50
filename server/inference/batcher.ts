// Dynamic batcher for query-tower runs (after Triton's): requests from concurrent clients queue
// here and go to a worker together. A batch leaves when a worker is idle and either the queued
// rows reach `maxBatchSize` or the oldest request has waited `maxQueueDelayUs` (0 = leave at
// once; requests still batch up while every worker is busy). maxBatchSize 1 turns batching off.
// Jobs arrive validated (shapes, id ranges), so a batch holds no bad input; the worker isolates
// failures per job besides. Results come back as the worker finishes them (per scoring run on
// the CPU), so early jobs of a batch are answered while the worker scores the rest.
//
// API:
//   new DynamicBatcher(pool, { maxBatchSize, maxQueueDelayUs, maxQueueLength }, hooks)
//   batcher.submit(job) → Promise<BatchedResult>     throws ServeError OVERLOADED when full
//   batcher.pending                                   jobs queued or running
import { inferenceFailed, overloaded } from '../errors.js';
import type { RunReply } from './protocol.js';
import type { WorkerPool } from './pool.js';

export interface BatcherLimits {
  maxBatchSize: number;
  maxQueueDelayUs: number;
  maxQueueLength: number;
}

export interface Job {
  rows: number;
  dense: Float32Array;
  categorical: BigInt64Array;
  wantQuery: boolean;
  indices?: Int32Array;
}

export interface BatchedResult {
  query?: Float32Array;
  scores?: Float32Array;
  /** seconds: waiting in the queue, the batch's query-tower run, this job's share of scoring */
  queueSeconds: number;
  queryTowerSeconds: number;
  scoringSeconds: number;
}

export interface BatcherHooks {
  onBatch?(rows: number): void;
}

interface Queued {
  job: Job;
  enqueuedAt: bigint;
  resolve: (r: BatchedResult) => void;
  reject: (e: Error) => void;
}

type RunnablePool = Pick<WorkerPool, 'idle' | 'run' | 'onIdle'>;

export class DynamicBatcher {
  private readonly queue: Queued[] = [];
  private queuedRows = 0;
  private running = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  constructor(
    private readonly pool: RunnablePool,
    private readonly limits: BatcherLimits,
    private readonly hooks: BatcherHooks = {},
  ) {
    pool.onIdle(() => this.pump());
  }

  get pending(): number {
    return this.queue.length + this.running;
  }

  submit(job: Job): Promise<BatchedResult> {
    if (this.queue.length >= this.limits.maxQueueLength) return Promise.reject(overloaded(this.queue.length));
    return new Promise((resolve, reject) => {
      this.queue.push({ job, enqueuedAt: process.hrtime.bigint(), resolve, reject });
      this.queuedRows += job.rows;
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.pool.idle()) {
      if (this.queuedRows < this.limits.maxBatchSize && this.limits.maxQueueDelayUs > 0) {
        const waitedUs = Number(process.hrtime.bigint() - this.queue[0]!.enqueuedAt) / 1000;
        const leftUs = this.limits.maxQueueDelayUs - waitedUs;
        if (leftUs > 0) return this.wake(leftUs);
      }
      this.dispatch(this.take());
    }
  }

  /** Re-runs pump after `us`; sub-millisecond waits use setImmediate (timers are 1 ms coarse). */
  private wake(us: number): void {
    if (this.timer) return;
    const fire = (): void => {
      this.timer = undefined;
      this.pump();
    };
    this.timer = us >= 1000 ? setTimeout(fire, Math.floor(us / 1000)) : setImmediate(fire);
  }

  /** Takes the jobs for one batch: whole jobs, at most maxBatchSize rows (at least one job). */
  private take(): Queued[] {
    const batch: Queued[] = [this.queue.shift()!];
    let rows = batch[0]!.job.rows;
    while (this.queue.length > 0 && rows + this.queue[0]!.job.rows <= this.limits.maxBatchSize) {
      const next = this.queue.shift()!;
      rows += next.job.rows;
      batch.push(next);
    }
    this.queuedRows -= rows;
    return batch;
  }

  private dispatch(batch: Queued[]): void {
    const rows = batch.reduce((n, q) => n + q.job.rows, 0);
    const dense =
      batch.length === 1
        ? batch[0]!.job.dense
        : concat(
            Float32Array,
            batch.map((q) => q.job.dense),
          );
    const categorical =
      batch.length === 1
        ? batch[0]!.job.categorical
        : concat(
            BigInt64Array,
            batch.map((q) => q.job.categorical),
          );
    const started = process.hrtime.bigint();
    this.running += batch.length;
    this.hooks.onBatch?.(rows);
    const jobs = batch.map((q) => ({
      rows: q.job.rows,
      wantQuery: q.job.wantQuery,
      ...(q.job.indices ? { indices: q.job.indices } : {}),
    }));
    // Results stream back per scoring run; a job is settled once, by its first result.
    const open = new Array<boolean>(batch.length).fill(true);
    const fail = (message: string): void =>
      batch.forEach((q, i) => {
        if (!open[i]) return;
        open[i] = false;
        this.running--;
        q.reject(inferenceFailed(message));
      });
    this.pool
      .run({ rows, dense, categorical, jobs }, (reply) => this.settle(batch, open, started, reply))
      .then(
        () => fail('no result'),
        (e: unknown) => fail(e instanceof Error ? e.message : String(e)),
      );
  }

  private settle(batch: Queued[], open: boolean[], started: bigint, reply: RunReply): void {
    const scored = reply.jobs.filter(([i, r]) => r.ok && r.scores && batch[i]).length || 1;
    for (const [i, r] of reply.jobs) {
      const q = batch[i];
      if (!q || !open[i]) continue;
      open[i] = false;
      this.running--;
      if (!r.ok) {
        q.reject(inferenceFailed(r.message));
        continue;
      }
      q.resolve({
        ...(r.query ? { query: r.query } : {}),
        ...(r.scores ? { scores: r.scores } : {}),
        queueSeconds: Number(started - q.enqueuedAt) / 1e9,
        queryTowerSeconds: reply.queryTowerUs / 1e6,
        scoringSeconds: r.scores ? reply.scoringUs / 1e6 / scored : 0,
      });
    }
  }
}

function concat<T extends Float32Array | BigInt64Array>(Ctor: { new (n: number): T }, parts: T[]): T {
  const out = new Ctor(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    (out as unknown as { set(a: T, o: number): void }).set(p, at);
    at += p.length;
  }
  return out;
}
