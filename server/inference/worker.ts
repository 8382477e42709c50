// Inference worker thread: owns the ONNX Runtime sessions of one served version (query tower +
// scoring graph) and runs batches off the HTTP thread, because onnxruntime-node's run() blocks
// the thread it is called on (microsoft/onnxruntime#19611).
//
// A batch runs the query tower once over all jobs' rows, then the scoring graph over its ranking
// jobs: once per batch on CUDA, in runs of ~4,096 candidate rows on the CPU, each run's results
// sent back as soon as it is done (see runBatch). Batches run one after another in the order they
// arrive; before a batch's last runs the worker says so (RunDraining), and the pool may send the
// next batch then, which waits here while those runs finish. If the batched query-tower run fails, each job
// is retried alone, so one job can only fail itself (the HTTP thread validates before batching;
// this is the second line of defence).
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type {
  ExecutionProvider,
  JobResult,
  RunDraining,
  RunReply,
  RunRequest,
  WorkerInit,
  WorkerReady,
} from './protocol.js';
import { SCORING_INPUTS, SCORING_OUTPUTS } from '../../modelkit/scoring-graph.js';
import { scoringChunks } from './chunks.js';

// ORT's process-wide native logger would print its own unstructured line when the CUDA provider
// library is missing; failures reach us as exceptions anyway, so keep it to fatal messages.
ort.env.logLevel = 'fatal';

const port = parentPort!;
const init = workerData as WorkerInit;

function sessionOptions(provider: ExecutionProvider): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    intraOpNumThreads: init.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
}

async function createSessions(
  provider: ExecutionProvider,
): Promise<[ort.InferenceSession, ort.InferenceSession]> {
  const queryBytes = new Uint8Array(await readFile(init.queryModelPath));
  const query = await ort.InferenceSession.create(queryBytes, sessionOptions(provider));
  // The matrix is external data: ORT maps embeddings.bin from the snapshot folder (on the CPU the
  // mapping is shared with every other worker through the page cache; CUDA copies it to the device).
  const scoring = await ort.InferenceSession.create(init.scoringGraph, {
    ...sessionOptions(provider),
    extra: { session: { model_external_initializers_file_folder_path: init.scoringDataDir } },
  });
  return [query, scoring];
}

async function load(): Promise<{
  sessions: [ort.InferenceSession, ort.InferenceSession];
  ready: Extract<WorkerReady, { type: 'loaded' }>;
}> {
  if (init.executionProvider === 'cuda') {
    try {
      return { sessions: await createSessions('cuda'), ready: { type: 'loaded', provider: 'cuda' } };
    } catch (e) {
      // ORT throws (rather than falling back) when the CUDA provider libraries are absent.
      const fallbackReason = e instanceof Error ? e.message : String(e);
      return {
        sessions: await createSessions('cpu'),
        ready: { type: 'loaded', provider: 'cpu', fallbackReason },
      };
    }
  }
  return { sessions: await createSessions('cpu'), ready: { type: 'loaded', provider: 'cpu' } };
}

const usSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1000;

async function runQueryTower(
  session: ort.InferenceSession,
  rows: number,
  dense: Float32Array,
  categorical: BigInt64Array,
): Promise<Float32Array> {
  const out = await session.run({
    dense: new ort.Tensor('float32', dense, [rows, init.numDense]),
    categorical: new ort.Tensor('int64', categorical, [rows, init.numCategorical]),
  });
  return out.query!.data as Float32Array;
}

/**
 * Candidate rows per scoring run on the CPU. The scoring graph materialises [jobs, K, tasks, dim]
 * gathered rows; beyond a few thousand rows (a few MB) that spills the caches and the cost per
 * row grows (measured with 2,000 candidates, 20,000-item table: ~200 µs per job at 1–2 jobs per
 * run, ~350–400 µs at 8–16), so a batch's ranking jobs are scored in chunks of about this many
 * rows. On CUDA one run per batch is what amortises launches, so there it is unbounded.
 */
const CPU_SCORING_ROWS_PER_RUN = 4096;

/**
 * How many ONNX Runtime runs before a batch's end the worker says it is draining (RunDraining),
 * so that the next batch is in its queue when this one ends. The hand-off takes two messages and
 * a dispatch on the HTTP thread; under load each message waited 400–500 µs (p50) for its thread,
 * more than one 2-job scoring run lasts, and a lead of one run left the worker's idle time as it
 * was (bench/RESULTS.md, 2026-12-06 session 8).
 */
const DRAIN_LEAD_RUNS = 2;

/** The scoring graph's row indices, kept between runs (the run reads them before it returns). */
let rowsScratch = new BigInt64Array(0);

/**
 * Scores ranking jobs [from, to) in one run: rows padded to the longest job with row 0 (its
 * scores are dropped), queries stacked → scores [jobs, tasks, K], one [tasks, N] block per job.
 * When every job has K candidates the blocks are views on the run's one output (sent by one
 * transfer); otherwise each job's scores are copied out of the padding.
 */
async function scoreRun(
  session: ort.InferenceSession,
  queries: Float32Array[],
  indices: Int32Array[],
): Promise<Float32Array[]> {
  const b = queries.length;
  let k = 0;
  for (const ix of indices) k = Math.max(k, ix.length);
  const width = init.tasks * init.dim;
  const query = new Float32Array(b * width);
  if (rowsScratch.length < b * k) rowsScratch = new BigInt64Array(b * k);
  const rows = rowsScratch.subarray(0, b * k);
  // int64 row indices written as (lo, hi = 0) int32 word pairs: no BigInt per candidate (the
  // high words are never written: indices are non-negative int32s).
  const words = new Int32Array(rows.buffer, 0, 2 * b * k);
  for (let j = 0; j < b; j++) {
    query.set(queries[j]!, j * width);
    const ix = indices[j]!;
    const at = 2 * j * k;
    for (let i = 0; i < ix.length; i++) words[at + 2 * i] = ix[i]!;
    for (let i = ix.length; i < k; i++) words[at + 2 * i] = 0;
  }
  const out = await session.run({
    [SCORING_INPUTS.query]: new ort.Tensor('float32', query, [b, init.tasks, init.dim]),
    [SCORING_INPUTS.rows]: new ort.Tensor('int64', rows, [b, k]),
  });
  const scores = out[SCORING_OUTPUTS.scores]!.data as Float32Array;
  const block = init.tasks * k;
  return indices.map((ix, j) => {
    const n = ix.length;
    if (n === k) return scores.subarray(j * block, (j + 1) * block);
    const mine = new Float32Array(init.tasks * n);
    for (let t = 0; t < init.tasks; t++) {
      const from = (j * init.tasks + t) * k;
      mine.set(scores.subarray(from, from + n), t * n);
    }
    return mine;
  });
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

type Send = (reply: Omit<RunReply, 'type' | 'id' | 'queryTowerUs'>) => void;

/**
 * Runs one batch and sends its results as they become ready (see RunReply): jobs that need no
 * scoring (query-only, or the query tower failed for them) right after the query tower, then
 * each scoring run's jobs as soon as that run is done. On the CPU the ranking jobs are scored in
 * runs of about CPU_SCORING_ROWS_PER_RUN candidate rows; a failed run fails only its own jobs.
 */
async function runBatch(
  sessions: [ort.InferenceSession, ort.InferenceSession],
  provider: ExecutionProvider,
  req: RunRequest,
  send: (reply: RunReply) => void,
  draining: () => void,
): Promise<void> {
  const [querySession, scoringSession] = sessions;
  const budget = provider === 'cuda' ? Infinity : CPU_SCORING_ROWS_PER_RUN;
  const width = init.tasks * init.dim;
  const t0 = process.hrtime.bigint();
  // Query embeddings per job (undefined = that job failed with `errors[j]`).
  const perJob: (Float32Array | undefined)[] = new Array(req.jobs.length);
  const errors: string[] = new Array(req.jobs.length);
  try {
    const all = await runQueryTower(querySession, req.rows, req.dense, req.categorical);
    let row = 0;
    for (let j = 0; j < req.jobs.length; j++) {
      const rows = req.jobs[j]!.rows;
      perJob[j] = all.slice(row * width, (row + rows) * width);
      row += rows;
    }
  } catch (batchError) {
    let row = 0;
    for (let j = 0; j < req.jobs.length; j++) {
      const rows = req.jobs[j]!.rows;
      try {
        if (req.jobs.length === 1) throw batchError;
        const dense = req.dense.slice(row * init.numDense, (row + rows) * init.numDense);
        const cat = req.categorical.slice(row * init.numCategorical, (row + rows) * init.numCategorical);
        perJob[j] = (await runQueryTower(querySession, rows, dense, cat)).slice();
      } catch (e) {
        errors[j] = message(e);
      }
      row += rows;
    }
  }
  const queryTowerUs = usSince(t0);
  const reply: Send = (r) => send({ type: 'result', id: req.id, queryTowerUs, ...r });

  const ranking: number[] = [];
  const now: [number, JobResult][] = [];
  req.jobs.forEach((spec, j) => {
    const q = perJob[j];
    if (!q) now.push([j, { ok: false, message: errors[j] ?? 'query tower failed' }]);
    else if (spec.indices) ranking.push(j);
    else now.push([j, spec.wantQuery ? { ok: true, query: q } : { ok: true }]);
  });
  if (now.length > 0 || ranking.length === 0) reply({ last: ranking.length === 0, jobs: now, scoringUs: 0 });
  if (ranking.length === 0) return;

  const runs = scoringChunks(
    ranking.map((j) => req.jobs[j]!.indices!.length),
    budget,
  );
  for (let r = 0; r < runs.length; r++) {
    const mine = ranking.slice(runs[r]![0], runs[r]![1]);
    // Only a batch of several runs says so: a shorter one (one or two jobs: low load, where no
    // next batch waits) ends soon anyway, and the message would wake the HTTP thread for nothing.
    if (runs.length >= DRAIN_LEAD_RUNS && runs.length - r <= DRAIN_LEAD_RUNS) draining();
    const t1 = process.hrtime.bigint();
    let results: JobResult[];
    try {
      const scores = await scoreRun(
        scoringSession,
        mine.map((j) => perJob[j]!),
        mine.map((j) => req.jobs[j]!.indices!),
      );
      results = mine.map((j, i) =>
        req.jobs[j]!.wantQuery
          ? { ok: true, query: perJob[j]!, scores: scores[i]! }
          : { ok: true, scores: scores[i]! },
      );
    } catch (e) {
      results = mine.map(() => ({ ok: false, message: message(e) }));
    }
    reply({
      last: r === runs.length - 1,
      jobs: mine.map((j, i) => [j, results[i]!]),
      scoringUs: usSince(t1),
    });
  }
}

/** The buffers behind a reply's arrays, each once (a run's jobs may share its output's). */
function transferables(reply: RunReply): ArrayBuffer[] {
  const list = new Set<ArrayBuffer>();
  for (const [, j] of reply.jobs) {
    if (!j.ok) continue;
    if (j.query) list.add(j.query.buffer as ArrayBuffer);
    if (j.scores) list.add(j.scores.buffer as ArrayBuffer);
  }
  return [...list];
}

try {
  const { sessions, ready } = await load();
  // One batch at a time, in arrival order (the pool sends the next one while the last run of the
  // current one is under way).
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (req: RunRequest) => {
    queue = queue.then(() => handle(req));
  });
  const handle = (req: RunRequest): Promise<void> => {
    let ended = false;
    let drained = false;
    const send = (reply: RunReply): void => {
      ended ||= reply.last;
      port.postMessage(reply, transferables(reply));
    };
    const draining = (): void => {
      if (drained || ended) return;
      drained = true;
      port.postMessage({ type: 'draining', id: req.id } satisfies RunDraining);
    };
    return runBatch(sessions, ready.provider, req, send, draining)
      .then(
        () => undefined,
        (e: unknown) => message(e),
      )
      .then((failure) => {
        // Jobs already answered keep their results (the batcher ignores a second one for a job).
        if (!ended)
          send({
            type: 'result',
            id: req.id,
            last: true,
            jobs: req.jobs.map((_, j) => [j, { ok: false, message: failure ?? 'batch ended unanswered' }]),
            queryTowerUs: 0,
            scoringUs: 0,
          });
      });
  };
  port.postMessage(ready);
} catch (e) {
  port.postMessage({ type: 'load-failed', message: message(e) } satisfies WorkerReady);
}
