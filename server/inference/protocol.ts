// Messages between the HTTP thread and the inference workers (node:worker_threads). Typed
// arrays travel by transfer, never copied; the scoring graph is under 1 KB (its matrix is the
// snapshot's embeddings.bin, which ONNX Runtime maps from the snapshot folder).
//
// API: the types below; nothing runs here.

export type ExecutionProvider = 'cuda' | 'cpu';

/** How a worker sets itself up for one served version (query tower + snapshot scoring graph). */
export interface WorkerInit {
  /** ONNX file of the query tower; the worker reads the bytes itself. */
  queryModelPath: string;
  /** The generated scoring graph; its initializer is external data (the snapshot's embeddings.bin). */
  scoringGraph: Uint8Array;
  /** The folder the scoring graph's external data is read from (the snapshot folder). */
  scoringDataDir: string;
  executionProvider: ExecutionProvider;
  intraOpThreads: number;
  numDense: number;
  numCategorical: number;
  tasks: number;
  dim: number;
}

export type WorkerReady =
  | { type: 'loaded'; provider: ExecutionProvider; fallbackReason?: string }
  | { type: 'load-failed'; message: string };

/** One request's share of a batch. */
export interface JobSpec {
  rows: number;
  /** return the query embeddings ([rows, tasks, dim]) — OIP infer */
  wantQuery: boolean;
  /** score these snapshot rows with the (single-row) query embedding — ranking */
  indices?: Int32Array;
}

export interface RunRequest {
  type: 'run';
  id: number;
  rows: number;
  /** [rows, numDense] concatenated over the jobs, in order */
  dense: Float32Array;
  /** [rows, numCategorical] */
  categorical: BigInt64Array;
  jobs: JobSpec[];
}

export type JobResult =
  { ok: true; query?: Float32Array; scores?: Float32Array /* [tasks, N] */ } | { ok: false; message: string };

/**
 * The worker is starting the batch's last scoring runs (worker.ts DRAIN_LEAD_RUNS: the last two,
 * in a batch of at least two): the pool may send the next batch now, so that it waits in the
 * worker's queue instead of the worker waiting for the HTTP thread to read the last reply and
 * dispatch. Sent at most once per batch, before its last reply; a batch of one scoring run (one
 * or two jobs) sends none.
 */
export interface RunDraining {
  type: 'draining';
  id: number;
}

/**
 * Results of some of a batch's jobs. A worker sends them as soon as they are ready — query-only
 * jobs after the query tower, ranking jobs after the scoring run that scored them (on the CPU a
 * batch takes several) — so the HTTP thread answers early jobs while the worker scores the rest.
 * Every job's result comes exactly once over a batch's replies; the one with `last` ends it.
 */
export interface RunReply {
  type: 'result';
  id: number;
  last: boolean;
  /** [position in RunRequest.jobs, its result] */
  jobs: [number, JobResult][];
  /** microseconds: the batch's query-tower run; the scoring run(s) behind this reply's results */
  queryTowerUs: number;
  scoringUs: number;
}
