// Builds the scoring graph the server runs per batch: the snapshot's embedding matrix is an
// initializer [rows, tasks, dim] (float32, or float16 kept as float16 and Cast after the
// Gather); inputs `query` float32 [B, tasks, dim] and `rows` int64 [B, K] (row indices, all
// in [0, rows) — Gather reads negative ones from the end and fails on out-of-range ones);
// output `scores` float32 [B, tasks, K] = sigmoid(q_t · p_t). The top-K variant adds input
// `k` int64 [1] and outputs `top_scores` float32 [B, tasks, k] and `top_indices` int64
// [B, tasks, k] (positions along K, best first) instead of `scores`.
// The matrix is either inline (copied into the protobuf) or external: the graph references a
// file (e.g. the snapshot's embeddings.bin) by a path relative to where the .onnx file will be,
// and ONNX Runtime reads it when the model is loaded from that path.
//
// API:
//   SCORING_INPUTS = { query: 'query', rows: 'rows', k: 'k' }
//   SCORING_OUTPUTS = { scores: 'scores', topScores: 'top_scores', topIndices: 'top_indices' }
//   interface ScoringGraphOptions {
//     tasks: number; dim: number; rows: number; dtype: EmbeddingDtype; topK?: boolean
//     table: Float32Array | Uint16Array                     inline (Uint16Array = float16 bits)
//          | { location: string; offset?: number }          external data file
//   }
//   buildScoringModel(opts: ScoringGraphOptions): Uint8Array
import type { EmbeddingDtype } from '../snapshot/format.js';
import { GraphBuilder } from './onnx.js';

export const SCORING_INPUTS = { query: 'query', rows: 'rows', k: 'k' } as const;
export const SCORING_OUTPUTS = {
  scores: 'scores',
  topScores: 'top_scores',
  topIndices: 'top_indices',
} as const;

export interface ScoringGraphOptions {
  tasks: number;
  dim: number;
  rows: number;
  dtype: EmbeddingDtype;
  topK?: boolean;
  table: Float32Array | Uint16Array | { location: string; offset?: number };
}

export function buildScoringModel(opts: ScoringGraphOptions): Uint8Array {
  const { tasks, dim, rows, dtype } = opts;
  const g = new GraphBuilder(opts.topK ? 'lightrank_scoring_topk' : 'lightrank_scoring');
  const query = g.input(SCORING_INPUTS.query, 'float32', ['batch', tasks, dim]);
  const rowIdx = g.input(SCORING_INPUTS.rows, 'int64', ['batch', 'candidates']);
  const dims = [rows, tasks, dim];
  let table: string;
  if (opts.table instanceof Float32Array || opts.table instanceof Uint16Array) {
    const want = dtype === 'float32' ? Float32Array : Uint16Array;
    if (!(opts.table instanceof want))
      throw new TypeError(`scoring table: dtype ${dtype} needs a ${want.name}`);
    table = g.initializer('embeddings', opts.table, dims);
  } else {
    const placeholder = dtype === 'float32' ? new Float32Array(0) : new Uint16Array(0);
    table = g.initializer('embeddings', placeholder, dims, {
      location: opts.table.location,
      offset: opts.table.offset ?? 0,
    });
  }
  let items = g.op('Gather', [table, rowIdx], { axis: 0 }); // [B, K, T, D]
  if (dtype === 'float16') items = g.op('Cast', [items], { to: 1 /* FLOAT */ });
  const q = g.op('Unsqueeze', [query, g.constInt64([1])]); // [B, 1, T, D]
  const dots = g.op('ReduceSum', [g.op('Mul', [items, q]), g.constInt64([-1])], { keepdims: 0 }); // [B, K, T]
  const scores = g.op('Sigmoid', [g.op('Transpose', [dots], { perm: [0, 2, 1] })]); // [B, T, K]
  if (opts.topK) {
    const k = g.input(SCORING_INPUTS.k, 'int64', [1]);
    const [values, indices] = g.node('TopK', [scores, k], { axis: -1, largest: 1, sorted: 1 }, 2);
    g.bind(values!, SCORING_OUTPUTS.topScores);
    g.bind(indices!, SCORING_OUTPUTS.topIndices);
    g.output(SCORING_OUTPUTS.topScores, 'float32', ['batch', tasks, 'k']);
    g.output(SCORING_OUTPUTS.topIndices, 'int64', ['batch', tasks, 'k']);
  } else {
    g.bind(scores, SCORING_OUTPUTS.scores);
    g.output(SCORING_OUTPUTS.scores, 'float32', ['batch', tasks, 'candidates']);
  }
  return g.encode({
    'lightrank.graph': 'scoring',
    'lightrank.tasks.count': String(tasks),
    'lightrank.dim': String(dim),
  });
}
