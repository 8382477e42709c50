// Builds the ONNX graph of one tower (query or item) of the reference MMoE-DCN model from its
// weights: categorical ids (mod vocab) → one Gather over the stacked embedding tables → concat
// with dense → MMoE (experts = DCN-v2 cross stacks, one softmax MLP gate per task) → one MLP
// tower per task → L2-normalised × outputScale → [B, tasks, dim]. Batch dim is dynamic.
//
// API:
//   TOWER_INPUTS = { dense: 'dense', categorical: 'categorical' }; TOWER_OUTPUT = { query: 'query', item: 'item' }
//   towerMetadata(w: TowerWeights, fingerprint: string): Record<string, string>
//   buildTowerModel(w: TowerWeights, fingerprint: string): Uint8Array        ONNX ModelProto bytes
import { towerInputWidth } from './config.js';
import { GraphBuilder } from './onnx.js';
import { NORM_EPSILON } from './reference.js';
import type { DenseWeights, TowerKind, TowerWeights } from './weights.js';

export const TOWER_INPUTS = { dense: 'dense', categorical: 'categorical' } as const;
export const TOWER_OUTPUT: Record<TowerKind, string> = { query: 'query', item: 'item' };

/** The ONNX metadata_props of a tower (docs/internals.md, "Model files on storage"). */
export function towerMetadata(w: TowerWeights, fingerprint: string): Record<string, string> {
  return {
    'lightrank.tower': w.tower,
    'lightrank.fingerprint': fingerprint,
    'lightrank.tasks': JSON.stringify(w.tasks),
    'lightrank.dim': String(w.dim),
    'lightrank.inputs': JSON.stringify([TOWER_INPUTS.dense, TOWER_INPUTS.categorical]),
    'lightrank.outputs': JSON.stringify([TOWER_OUTPUT[w.tower]]),
    'lightrank.numDense': String(w.config.numDense),
    'lightrank.numCategorical': String(w.config.numCategorical),
  };
}

export function buildTowerModel(w: TowerWeights, fingerprint: string): Uint8Array {
  const c = w.config;
  const g = new GraphBuilder(`lightrank_${w.tower}_tower`);
  const dense = g.input(TOWER_INPUTS.dense, 'float32', ['batch', c.numDense]);
  const categorical = g.input(TOWER_INPUTS.categorical, 'int64', ['batch', c.numCategorical]);
  const d = towerInputWidth(c);

  let x0 = dense;
  if (c.numCategorical > 0) {
    const table = g.initializer('embedding_tables', w.table, [
      c.numCategorical * c.vocabSize,
      c.embeddingDim,
    ]);
    const local = g.op('Mod', [categorical, g.constInt64([c.vocabSize])], { fmod: 0 });
    const offsets = g.constInt64(Array.from({ length: c.numCategorical }, (_, f) => f * c.vocabSize));
    const emb = g.op('Gather', [table, g.op('Add', [local, offsets])], { axis: 0 });
    const flat = g.op('Reshape', [emb, g.constInt64([0, c.numCategorical * c.embeddingDim])]);
    x0 = g.op('Concat', [dense, flat], { axis: 1 });
  }

  let n = 0;
  const param = (data: Float32Array, dims: number[]) => g.initializer(`w${n++}`, data, dims);
  const gemm = (x: string, l: DenseWeights) =>
    g.op('Gemm', [x, param(l.w, [l.in, l.out]), param(l.b, [l.out])]);
  const axis1 = g.constInt64([1]);

  const experts = w.experts.map((layers) => {
    let x = x0;
    for (const l of layers) {
      const y =
        'w' in l
          ? g.op('MatMul', [x, param(l.w, [d, d])])
          : g.op('MatMul', [g.op('MatMul', [x, param(l.v, [d, l.rank])]), param(l.u, [l.rank, d])]);
      x = g.op('Add', [g.op('Mul', [x0, g.op('Add', [y, param(l.b, [d])])]), x]);
    }
    return g.op('Unsqueeze', [x, axis1]);
  });
  const stacked = experts.length === 1 ? experts[0]! : g.op('Concat', experts, { axis: 1 }); // [B, E, D]

  const scale = g.initializer('output_scale', new Float32Array([c.outputScale]), []);
  const eps = g.initializer('norm_epsilon', new Float32Array([NORM_EPSILON]), []);
  const perTask = w.tasks.map((_, t) => {
    const [g1, g2] = w.gates[t]!;
    const gate = g.op('Softmax', [gemm(g.op('Relu', [gemm(x0, g1!)]), g2!)], { axis: -1 }); // [B, E]
    const mixed = g.op('Squeeze', [g.op('MatMul', [g.op('Unsqueeze', [gate, axis1]), stacked]), axis1]); // [B, D]
    const layers = w.towers[t]!;
    let h = mixed;
    layers.forEach((l, i) => {
      h = gemm(h, l);
      if (i < layers.length - 1) h = g.op('Relu', [h]);
    });
    const norm = g.op('Add', [g.op('ReduceL2', [h], { axes: [-1], keepdims: 1 }), eps]);
    const emb = g.op('Mul', [g.op('Div', [h, norm]), scale]);
    return g.op('Unsqueeze', [emb, axis1]); // [B, 1, dim]
  });
  const out = perTask.length === 1 ? perTask[0]! : g.op('Concat', perTask, { axis: 1 });
  const outName = TOWER_OUTPUT[w.tower]!;
  g.bind(out, outName);
  g.output(outName, 'float32', ['batch', w.tasks.length, w.dim]);
  return g.encode(towerMetadata(w, fingerprint));
}
