// The in-process floor of the server benchmarks: the same two ONNX graphs the server runs (query
// tower, then the scoring graph over the snapshot's file-mapped embeddings), called directly at
// batch 1 on one thread, no HTTP; and the 16 requests every part of a benchmark sends.
//
// API:
//   workload(snapshotRows) → Work[]            16 queries × 2,000 candidate rows
//   makeFloor(modelPath, snapshotDir, work) → { run(durationMs) → { cpuUsPerReq, throughput, p50Ms, p99Ms } }
import * as ort from 'onnxruntime-node';
import { generateFeatures } from '../../modelkit/catalogue.js';
import { SCORING_INPUTS } from '../../modelkit/scoring-graph.js';
import { scoringGraphOverFile } from '../../server/lifecycle/scoring-graph.js';
import { openSnapshot } from '../../snapshot/index.js';

export const CANDIDATES = 2000;

/**
 * The 16 requests every part of the benchmark sends, round-robin: query features and 2,000
 * candidate rows of the snapshot each (different rows per request, as real traffic would be, so
 * the floor's gathers are no more cache-friendly than the server's).
 */
export interface Work {
  dense: Float32Array;
  categorical: BigInt64Array;
  rows: Int32Array;
}

export function workload(snapshotRows: number): Work[] {
  const { dense, categorical } = generateFeatures({ numDense: 16, numCategorical: 4 }, 16, 9);
  return Array.from({ length: 16 }, (_, b) => ({
    dense: dense.slice(b * 16, b * 16 + 16),
    categorical: categorical.slice(b * 4, b * 4 + 4),
    rows: Int32Array.from({ length: CANDIDATES }, (_, i) => (i * 7919 + b * 101) % snapshotRows),
  }));
}

/**
 * The floor's two sessions, created once (as the server's are) and run by `run(durationMs)`:
 * the bench warms them up like the servers before the rounds, so no round's floor pays ORT's
 * first runs.
 */
export async function makeFloor(modelPath: string, snapshotDir: string, work: Work[]) {
  const snapshot = await openSnapshot(snapshotDir);
  const opts: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  const query = await ort.InferenceSession.create(modelPath, opts);
  // the server's own scoring graph: the snapshot's embeddings.bin mapped as external data
  const graph = scoringGraphOverFile(snapshotDir, snapshot.manifest);
  const scoring = await ort.InferenceSession.create(graph.bytes, {
    ...opts,
    extra: { session: { model_external_initializers_file_folder_path: graph.externalDataDir } },
  });
  const rows = work.map((w) => BigInt64Array.from(w.rows, BigInt));
  return { run: (durationMs: number) => floorRun(query, scoring, snapshot, work, rows, durationMs) };
}

export interface FloorResult {
  cpuUsPerReq: number;
  throughput: number;
  p50Ms: number;
  p99Ms: number;
}

async function floorRun(
  query: ort.InferenceSession,
  scoring: ort.InferenceSession,
  snapshot: { tasks: readonly string[]; dim: number },
  work: Work[],
  rows: BigInt64Array[],
  durationMs: number,
): Promise<FloorResult> {
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const end = performance.now() + durationMs;
  let i = 0;
  while (performance.now() < end) {
    const t0 = performance.now();
    const b = i++ % work.length;
    const q = await query.run({
      dense: new ort.Tensor('float32', work[b]!.dense, [1, 16]),
      categorical: new ort.Tensor('int64', work[b]!.categorical, [1, 4]),
    });
    const emb = q.query!.data as Float32Array;
    await scoring.run({
      [SCORING_INPUTS.query]: new ort.Tensor('float32', emb, [1, snapshot.tasks.length, snapshot.dim]),
      [SCORING_INPUTS.rows]: new ort.Tensor('int64', rows[b]!, [1, CANDIDATES]),
    });
    lat.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuUsPerReq = (cpu.user + cpu.system) / lat.length;
  lat.sort((a, b) => a - b);
  return {
    cpuUsPerReq,
    throughput: lat.length / (durationMs / 1000),
    p50Ms: lat[Math.floor(lat.length / 2)]!,
    p99Ms: lat[Math.floor(lat.length * 0.99)]!,
  };
}
