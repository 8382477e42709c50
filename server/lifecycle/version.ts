// One served version: a query tower + an embedding snapshot with matching fingerprints, their
// worker pool and batcher. Loading checks everything before anything serves (model sha256 and
// metadata, the snapshot's full validation, fingerprint/tasks/dim agreement), builds the
// scoring graph whose initializer is the snapshot's embeddings.bin (external data, mapped by ONNX
// Runtime in each worker), and starts the workers while the files are hashed; each stage's
// seconds are kept in `loadStages` (load-stages.ts; `sessions` runs alongside `checksum`,
// `read_ids` and `id_index`). Last, the query tower runs once on a plain query (all features 0):
// a non-finite output refuses the version (reason `non_finite`). Requests hold a
// version from start to finish (`acquire`/`release`); a retired version closes its workers
// once its last request is done.
//
// API:
//   loadVersion(source: VersionSource, opts: VersionOptions) → Promise<ServedVersion>   throws LoadError
//   version.model / .snapshot / .tasks / .dim / .numDense / .numCategorical / .provider
//   version.lookup(ids: BigUint64Array) → Int32Array       snapshot rows, -1 = unknown
//   version.batcher.submit(job)
//   version.acquire(); version.release(); version.retire() → Promise<void>   (resolves when closed)
import type { Logger } from '../../lib/logger.js';
import { checkSnapshotFiles, isSnapshotError, openSnapshot, type Snapshot } from '../../snapshot/index.js';
import { DynamicBatcher, type BatcherLimits } from '../inference/batcher.js';
import { WorkerPool } from '../inference/pool.js';
import type { ExecutionProvider } from '../inference/protocol.js';
import { LoadError } from './load-error.js';
import { StageClock } from './load-stages.js';
import { readQueryTower, type QueryTowerInfo } from './model-file.js';
import { scoringGraphOverFile } from './scoring-graph.js';

export interface VersionSource {
  modelDir: string;
  modelVersion: string;
  snapshotDir: string;
  snapshotVersion: string;
}

export interface VersionOptions {
  executionProvider: ExecutionProvider;
  workers: number;
  intraOpThreads: number;
  limits: BatcherLimits;
  log: Logger;
  onBatch?(rows: number): void;
}

export interface SnapshotInfo {
  version: string;
  dir: string;
  rows: number;
  dtype: string;
  createdAt: Date;
}

export class ServedVersion {
  private inFlight = 0;
  private retired: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly model: QueryTowerInfo,
    readonly snapshot: SnapshotInfo,
    private readonly index: Pick<Snapshot['index'], 'lookup'>,
    private readonly pool: WorkerPool,
    readonly batcher: DynamicBatcher,
    /** seconds per load stage (load-stages.ts) */
    readonly loadStages: Record<string, number>,
  ) {}

  get tasks(): string[] {
    return this.model.tasks;
  }
  get dim(): number {
    return this.model.dim;
  }
  get numDense(): number {
    return this.model.numDense;
  }
  get numCategorical(): number {
    return this.model.numCategorical;
  }
  get provider(): ExecutionProvider {
    return this.pool.provider;
  }
  get fallbackReason(): string | undefined {
    return this.pool.fallbackReason;
  }
  get healthy(): boolean {
    return this.pool.size > 0;
  }

  lookup(ids: BigUint64Array): Int32Array {
    return this.index.lookup(ids);
  }

  acquire(): void {
    this.inFlight++;
  }

  release(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.retired) this.retired();
  }

  /** Stops taking new work; closes the workers when the requests already holding it are done. */
  retire(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.retired = resolve;
      if (this.inFlight === 0) resolve();
    }).then(() => this.pool.close());
    return this.closing;
  }
}

/** A snapshot module error as the reloader's refusal. */
function snapshotRefusal(e: unknown): unknown {
  return isSnapshotError(e) ? new LoadError('snapshot', e.cause, e.message) : e;
}

export async function loadVersion(src: VersionSource, opts: VersionOptions): Promise<ServedVersion> {
  const clock = new StageClock();
  const model = await clock.time('model', () => readQueryTower(src.modelDir, src.modelVersion));
  const m = await checkSnapshotFiles(src.snapshotDir, { expectedFingerprint: model.fingerprint }).catch(
    (e: unknown) => {
      throw snapshotRefusal(e);
    },
  );
  if (m.dim !== model.dim || m.tasks.join(',') !== model.tasks.join(',')) {
    throw new LoadError(
      'snapshot',
      'shape',
      `snapshot ${m.snapshotVersion} has tasks [${m.tasks.join(', ')}] × dim ${m.dim}; ` +
        `model ${model.version} wants [${model.tasks.join(', ')}] × dim ${model.dim}`,
    );
  }
  const scoringGraph = await clock.time('scoring_graph', () => scoringGraphOverFile(src.snapshotDir, m));
  // The workers create their sessions (mapping embeddings.bin) while this thread checks the
  // files' sha256 and builds the id index: nothing serves until both are done, and a snapshot
  // that fails its checks closes the new workers unused.
  const [opened, started] = await Promise.allSettled([
    openSnapshot(src.snapshotDir, {
      expectedFingerprint: model.fingerprint,
      loadEmbeddings: false,
      onStage: (stage, seconds) => clock.record(stage, seconds),
    }),
    clock.time('sessions', () =>
      WorkerPool.start(
        {
          queryModelPath: model.path,
          scoringGraph: scoringGraph.bytes,
          scoringDataDir: scoringGraph.externalDataDir,
          executionProvider: opts.executionProvider,
          intraOpThreads: opts.intraOpThreads,
          numDense: model.numDense,
          numCategorical: model.numCategorical,
          tasks: model.tasks.length,
          dim: model.dim,
        },
        opts.workers,
        opts.log,
      ),
    ),
  ]);
  const pool = started.status === 'fulfilled' ? started.value : undefined;
  if (opened.status === 'rejected') {
    await pool?.close();
    throw snapshotRefusal(opened.reason);
  }
  if (!pool) {
    const reason = (started as PromiseRejectedResult).reason as Error;
    throw new LoadError(
      'model',
      'runtime',
      `ONNX Runtime refused the model or scoring graph: ${reason.message}`,
    );
  }
  const snapshot = opened.value;
  if (JSON.stringify(snapshot.manifest) !== JSON.stringify(m)) {
    await pool.close();
    throw new LoadError('snapshot', 'manifest', `${src.snapshotDir}: the manifest changed while loading`);
  }
  // A plain query (all features 0) must come out finite: then a non-finite output later is the
  // request's features, not the model, and is answered as the client's error (dataplane.ts).
  // It is also the version's first run (the workers' sessions warm up before serving). It runs
  // through a batcher of its own: not a batch in the metrics, no queue delay.
  const probe = await new DynamicBatcher(pool, { maxBatchSize: 1, maxQueueDelayUs: 0, maxQueueLength: 1 })
    .submit({
      rows: 1,
      dense: new Float32Array(model.numDense),
      categorical: new BigInt64Array(model.numCategorical),
      wantQuery: true,
    })
    .catch((e: unknown) => e as Error);
  if (probe instanceof Error || !probe.query!.every(Number.isFinite)) {
    await pool.close();
    throw new LoadError(
      'model',
      'non_finite',
      probe instanceof Error
        ? `the query tower failed on a plain query (all features 0): ${probe.message}`
        : `the query tower's output for a plain query (all features 0) is not finite (NaN or Infinity in its weights?)`,
    );
  }
  const batcher = new DynamicBatcher(pool, opts.limits, {
    ...(opts.onBatch ? { onBatch: opts.onBatch } : {}),
  });
  const info: SnapshotInfo = {
    version: m.snapshotVersion,
    dir: src.snapshotDir,
    rows: m.rows,
    dtype: m.dtype,
    createdAt: new Date(m.createdAt),
  };
  // Only the id index stays on this thread; the workers' sessions map the matrix from its file.
  return new ServedVersion(model, info, snapshot.index, pool, batcher, clock.seconds);
}
