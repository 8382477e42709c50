// A pool of inference worker threads for one served version. Each worker runs one batch at a
// time (the batcher keeps the queue, so requests batch up while workers are busy). Workers are
// started by `WorkerPool.start`, which resolves once every worker has loaded its sessions.
// A worker that dies fails its in-flight batch and is replaced.
//
// Workers are TypeScript under tsx/vitest and JavaScript under dist/: a .ts worker is started
// through worker-boot.mjs, which registers tsx's loader first (execArgv --import does not reach
// a worker's entry point).
//
// API:
//   WorkerPool.start(init: WorkerInit, size: number, log: Logger) → Promise<WorkerPool>
//   pool.provider                   the execution provider the workers got ('cuda' | 'cpu')
//   pool.fallbackReason             why CUDA was not used, when it was asked for
//   pool.idle(): boolean            some worker can take a batch now
//   pool.run(req, onReply) → Promise<void>   on an idle worker (throws when none is idle); onReply
//                                   gets each RunReply as it arrives (results stream per scoring
//                                   run); resolves after the last one, rejects if the worker dies
//   pool.onIdle(fn)                 called whenever a worker becomes idle
//   pool.close() → Promise<void>    terminates the workers (in-flight batches fail)
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../lib/logger.js';
import type { ExecutionProvider, RunReply, RunRequest, WorkerInit, WorkerReady } from './protocol.js';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './worker.ts' : './worker.js', import.meta.url);
const BOOT_URL = new URL('./worker-boot.mjs', import.meta.url);

function spawn(init: WorkerInit): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { workerData: init });
  return new Worker(BOOT_URL, { workerData: { ...init, entry: WORKER_URL.href } });
}

interface Slot {
  worker: Worker;
  busy?: { id: number; onReply: (r: RunReply) => void; resolve: () => void; reject: (e: Error) => void };
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly idleListeners: (() => void)[] = [];
  private nextId = 1;
  private closed = false;
  provider: ExecutionProvider = 'cpu';
  fallbackReason: string | undefined;

  private constructor(
    private readonly init: WorkerInit,
    private readonly log: Logger,
  ) {}

  static async start(init: WorkerInit, size: number, log: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(init, log);
    try {
      await Promise.all(Array.from({ length: size }, () => pool.addWorker()));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  private addWorker(): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = spawn(this.init);
      const slot: Slot = { worker };
      let ready = false;
      worker.on('message', (msg: WorkerReady | RunReply) => {
        if (msg.type === 'loaded') {
          ready = true;
          this.provider = msg.provider;
          this.fallbackReason ??= msg.fallbackReason;
          this.slots.push(slot);
          resolve();
          this.notifyIdle();
        } else if (msg.type === 'load-failed') {
          reject(new Error(msg.message));
          void worker.terminate();
        } else if (slot.busy && msg.id === slot.busy.id) {
          const { onReply, resolve: done } = slot.busy;
          if (msg.last) slot.busy = undefined;
          onReply(msg);
          if (msg.last) {
            done();
            this.notifyIdle();
          }
        }
      });
      worker.on('error', (e) => {
        if (!ready) reject(e);
        else this.log.error({ err: e }, 'inference worker failed');
      });
      worker.on('exit', (code) => {
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        if (!ready) return reject(new Error(`inference worker exited while loading (code ${code})`));
        slot.busy?.reject(new Error(`inference worker exited (code ${code})`));
        slot.busy = undefined;
        if (!this.closed) {
          this.log.warn({ code }, 'inference worker exited; starting a replacement');
          this.addWorker().catch((e: unknown) =>
            this.log.error({ err: e }, 'replacement worker failed to load'),
          );
        }
      });
    });
  }

  private notifyIdle(): void {
    for (const fn of this.idleListeners) fn();
  }

  get size(): number {
    return this.slots.length;
  }

  idle(): boolean {
    return this.slots.some((s) => !s.busy);
  }

  onIdle(fn: () => void): void {
    this.idleListeners.push(fn);
  }

  run(req: Omit<RunRequest, 'type' | 'id'>, onReply: (r: RunReply) => void): Promise<void> {
    const slot = this.slots.find((s) => !s.busy);
    if (!slot) throw new Error('no idle inference worker');
    const id = this.nextId++;
    const message: RunRequest = { type: 'run', id, ...req };
    const transfer: ArrayBuffer[] = [
      message.dense.buffer as ArrayBuffer,
      message.categorical.buffer as ArrayBuffer,
    ];
    for (const j of message.jobs) if (j.indices) transfer.push(j.indices.buffer as ArrayBuffer);
    return new Promise((resolve, reject) => {
      slot.busy = { id, onReply, resolve, reject };
      slot.worker.postMessage(message, transfer);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
