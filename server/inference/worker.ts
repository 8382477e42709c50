// Inference worker thread: owns the ONNX Runtime sessions of one served version (query tower +
// scoring graph) and runs batches off the HTTP thread, because onnxruntime-node's run() blocks
// the thread it is called on (microsoft/onnxruntime#19611).
//
// A batch runs the query tower once over all jobs' rows, then the scoring graph over its ranking
// jobs: once per batch on CUDA, in chunks of ~4,096 candidate rows on the CPU (see scoreAll). If the batched query-tower run fails, each job is retried alone, so one job can only fail
// itself (the HTTP thread validates before batching; this is the second line of defence).
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type {
  ExecutionProvider,
  JobResult,
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
 * Scores ranking jobs [from, to) in one run: rows padded to the longest job with row 0 (its
 * scores are dropped), queries stacked → scores [jobs, tasks, K], sliced per job.
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
  // int64 row indices written as (lo, hi = 0) int32 word pairs: no BigInt per candidate.
  const rows = new BigInt64Array(b * k);
  const words = new Int32Array(rows.buffer);
  for (let j = 0; j < b; j++) {
    query.set(queries[j]!, j * width);
    const ix = indices[j]!;
    for (let i = 0; i < ix.length; i++) words[2 * (j * k + i)] = ix[i]!;
  }
  const out = await session.run({
    [SCORING_INPUTS.query]: new ort.Tensor('float32', query, [b, init.tasks, init.dim]),
    [SCORING_INPUTS.rows]: new ort.Tensor('int64', rows, [b, k]),
  });
  const scores = out[SCORING_OUTPUTS.scores]!.data as Float32Array;
  if (b === 1 && k === indices[0]!.length) return [scores];
  return indices.map((ix, j) => {
    const n = ix.length;
    const mine = new Float32Array(init.tasks * n);
    for (let t = 0; t < init.tasks; t++) {
      const from = (j * init.tasks + t) * k;
      mine.set(scores.subarray(from, from + n), t * n);
    }
    return mine;
  });
}

/** Scores all ranking jobs of a batch, in as few runs as the provider's row budget allows. */
async function scoreAll(
  session: ort.InferenceSession,
  provider: ExecutionProvider,
  queries: Float32Array[],
  indices: Int32Array[],
): Promise<Float32Array[]> {
  const budget = provider === 'cuda' ? Infinity : CPU_SCORING_ROWS_PER_RUN;
  const scores: Float32Array[] = [];
  for (const [from, to] of scoringChunks(
    indices.map((ix) => ix.length),
    budget,
  ))
    scores.push(...(await scoreRun(session, queries.slice(from, to), indices.slice(from, to))));
  return scores;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function runBatch(
  sessions: [ort.InferenceSession, ort.InferenceSession],
  provider: ExecutionProvider,
  req: RunRequest,
): Promise<RunReply> {
  const [querySession, scoringSession] = sessions;
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
  const t1 = process.hrtime.bigint();
  const jobs: JobResult[] = req.jobs.map((spec, j) => {
    const q = perJob[j];
    if (!q) return { ok: false, message: errors[j] ?? 'query tower failed' };
    return spec.wantQuery ? { ok: true, query: q } : { ok: true };
  });
  const ranking = req.jobs.map((_, j) => j).filter((j) => req.jobs[j]!.indices && perJob[j]);
  if (ranking.length > 0) {
    try {
      const scores = await scoreAll(
        scoringSession,
        provider,
        ranking.map((j) => perJob[j]!),
        ranking.map((j) => req.jobs[j]!.indices!),
      );
      ranking.forEach((j, i) => ((jobs[j] as { scores?: Float32Array }).scores = scores[i]));
    } catch (e) {
      for (const j of ranking) jobs[j] = { ok: false, message: message(e) };
    }
  }
  return { type: 'result', id: req.id, jobs, queryTowerUs, scoringUs: usSince(t1) };
}

function transferables(reply: RunReply): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  for (const j of reply.jobs) {
    if (!j.ok) continue;
    if (j.query) list.push(j.query.buffer as ArrayBuffer);
    if (j.scores) list.push(j.scores.buffer as ArrayBuffer);
  }
  return list;
}

try {
  const { sessions, ready } = await load();
  port.on('message', (req: RunRequest) => {
    runBatch(sessions, ready.provider, req).then(
      (reply) => port.postMessage(reply, transferables(reply)),
      (e: unknown) =>
        port.postMessage({
          type: 'result',
          id: req.id,
          jobs: req.jobs.map(() => ({ ok: false, message: message(e) })),
          queryTowerUs: 0,
          scoringUs: 0,
        } satisfies RunReply),
    );
  });
  port.postMessage(ready);
} catch (e) {
  port.postMessage({ type: 'load-failed', message: message(e) } satisfies WorkerReady);
}
