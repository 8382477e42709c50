// A pool of inference worker threads for one served version. Each worker runs one batch at a
// time (the batcher keeps the queue, so requests batch up while workers are busy), and holds at
// most one more: once a worker nears its batch's end (RunDraining: its last two ONNX Runtime runs)
// it can take the next batch, which waits in the worker's queue, so the worker goes from one batch to the
// next without waiting for this thread to read its last reply and dispatch again. Workers are
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
//   pool.idle(): boolean            some worker can take a batch now: it has none, or it is near
//                                   its batch's end and holds no next one
//   pool.run(req, onReply) → Promise<void>   on an idle worker (throws when none is idle); onReply
//                                   gets each RunReply as it arrives (results stream per scoring
//                                   run); resolves after the last one, rejects if the worker dies
//   pool.onIdle(fn)                 called whenever a worker can take a batch again
//   pool.close() → Promise<void>    terminates the workers (in-flight batches fail)
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../lib/logger.js';
import type {
  ExecutionProvider,
  RunDraining,
  RunReply,
  RunRequest,
  WorkerInit,
  WorkerReady,
} from './protocol.js';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './worker.ts' : './worker.js', import.meta.url);
const BOOT_URL = new URL('./worker-boot.mjs', import.meta.url);

function spawn(init: WorkerInit): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { workerData: init });
  return new Worker(BOOT_URL, { workerData: { ...init, entry: WORKER_URL.href } });
}

interface InFlight {
  id: number;
  onReply: (r: RunReply) => void;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  /** the batch the worker runs now */
  busy?: InFlight;
  /** the worker is in `busy`'s last runs (RunDraining) */
  draining?: boolean;
  /** the batch sent after it, waiting in the worker's queue */
  next?: InFlight;
}

/** A worker that can take a batch: none in hand, or near the end of one with none behind it. */
const canTake = (s: Slot): boolean => !s.busy || (s.draining === true && !s.next);

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
      worker.on('message', (msg: WorkerReady | RunDraining | RunReply) => {
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
        } else if (msg.type === 'draining') {
          if (slot.busy?.id !== msg.id) return;
          slot.draining = true;
          if (canTake(slot)) this.notifyIdle();
        } else if (slot.busy && msg.id === slot.busy.id) {
          const { onReply, resolve: done } = slot.busy;
          if (msg.last) {
            // The next batch, if one was sent, is the worker's now.
            slot.busy = slot.next;
            slot.next = undefined;
            slot.draining = false;
          }
          onReply(msg);
          if (msg.last) {
            done();
            if (canTake(slot)) this.notifyIdle();
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
        for (const run of [slot.busy, slot.next])
          run?.reject(new Error(`inference worker exited (code ${code})`));
        slot.busy = slot.next = undefined;
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
    return this.slots.some(canTake);
  }

  onIdle(fn: () => void): void {
    this.idleListeners.push(fn);
  }

  run(req: Omit<RunRequest, 'type' | 'id'>, onReply: (r: RunReply) => void): Promise<void> {
    // A worker with nothing in hand first; else one near the end of its batch.
    const slot = this.slots.find((s) => !s.busy) ?? this.slots.find(canTake);
    if (!slot) throw new Error('no idle inference worker');
    const id = this.nextId++;
    const message: RunRequest = { type: 'run', id, ...req };
    const transfer: ArrayBuffer[] = [
      message.dense.buffer as ArrayBuffer,
      message.categorical.buffer as ArrayBuffer,
    ];
    for (const j of message.jobs) if (j.indices) transfer.push(j.indices.buffer as ArrayBuffer);
    return new Promise((resolve, reject) => {
      const run: InFlight = { id, onReply, resolve, reject };
      if (slot.busy) slot.next = run;
      else slot.busy = run;
      slot.worker.postMessage(message, transfer);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
