// Plain TypeScript reference of the model kit's math (float64 arithmetic), against which the
// ONNX graphs are tested: the MMoE-DCN tower and the snapshot scoring (gather → per-task dot →
// sigmoid).
//
// API:
//   runTowerReference(w: TowerWeights, dense: Float32Array /*[B·numDense]*/,
//                     categorical: BigInt64Array /*[B·numCategorical]*/): Float32Array /*[B·tasks·dim]*/
//   scoreReference(query: Float32Array /*[B·T·D]*/, table: Float32Array | Uint16Array /*[N·T·D]; Uint16 = float16*/,
//                  rows: ArrayLike<number|bigint> /*[B·K]*/, shape: { batch, tasks, dim, k }): Float32Array /*[B·T·K]*/
//   NORM_EPSILON = 1e-6
import { fromFloat16Bits } from '../snapshot/float16.js';
import { towerInputWidth } from './config.js';
import type { CrossWeights, DenseWeights, TowerWeights } from './weights.js';

export const NORM_EPSILON = 1e-6;

function dense(x: Float64Array, l: DenseWeights, relu: boolean): Float64Array {
  const y = new Float64Array(l.out);
  for (let j = 0; j < l.out; j++) {
    let s = l.b[j]!;
    for (let i = 0; i < l.in; i++) s += x[i]! * l.w[i * l.out + j]!;
    y[j] = relu && s < 0 ? 0 : s;
  }
  return y;
}

function matvec(x: Float64Array, w: Float32Array, inDim: number, outDim: number): Float64Array {
  const y = new Float64Array(outDim);
  for (let j = 0; j < outDim; j++) {
    let s = 0;
    for (let i = 0; i < inDim; i++) s += x[i]! * w[i * outDim + j]!;
    y[j] = s;
  }
  return y;
}

function cross(x0: Float64Array, x: Float64Array, l: CrossWeights): Float64Array {
  const d = x0.length;
  const y = 'w' in l ? matvec(x, l.w, d, d) : matvec(matvec(x, l.v, d, l.rank), l.u, l.rank, d);
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) out[i] = x0[i]! * (y[i]! + l.b[i]!) + x[i]!;
  return out;
}

function floorMod(id: bigint, n: number): number {
  const m = BigInt(n);
  return Number(((id % m) + m) % m);
}

export function runTowerReference(
  w: TowerWeights,
  dense_: Float32Array,
  categorical: BigInt64Array,
): Float32Array {
  const c = w.config;
  const batch = dense_.length / c.numDense;
  if (!Number.isInteger(batch) || categorical.length !== batch * c.numCategorical) {
    throw new RangeError(
      `runTowerReference: ${dense_.length} dense, ${categorical.length} categorical values`,
    );
  }
  const d = towerInputWidth(c);
  const tasks = w.tasks.length;
  const out = new Float32Array(batch * tasks * w.dim);
  for (let b = 0; b < batch; b++) {
    const x0 = new Float64Array(d);
    for (let i = 0; i < c.numDense; i++) x0[i] = dense_[b * c.numDense + i]!;
    for (let f = 0; f < c.numCategorical; f++) {
      const row = f * c.vocabSize + floorMod(categorical[b * c.numCategorical + f]!, c.vocabSize);
      for (let e = 0; e < c.embeddingDim; e++) {
        x0[c.numDense + f * c.embeddingDim + e] = w.table[row * c.embeddingDim + e]!;
      }
    }
    const experts = w.experts.map((layers) => layers.reduce<Float64Array>((x, l) => cross(x0, x, l), x0));
    for (let t = 0; t < tasks; t++) {
      const [g1, g2] = w.gates[t]!;
      const logits = dense(dense(x0, g1!, true), g2!, false);
      const max = Math.max(...logits);
      const exp = logits.map((v) => Math.exp(v - max));
      const sum = exp.reduce((a, v) => a + v, 0);
      let h: Float64Array = new Float64Array(d);
      for (let k = 0; k < c.experts; k++) {
        const g = exp[k]! / sum;
        for (let i = 0; i < d; i++) h[i] = h[i]! + g * experts[k]![i]!;
      }
      const layers = w.towers[t]!;
      layers.forEach((l, i) => (h = dense(h, l, i < layers.length - 1)));
      const norm = Math.sqrt(h.reduce((a, v) => a + v * v, 0));
      const scale = c.outputScale / (norm + NORM_EPSILON);
      for (let i = 0; i < w.dim; i++) out[(b * tasks + t) * w.dim + i] = h[i]! * scale;
    }
  }
  return out;
}

export function scoreReference(
  query: Float32Array,
  table: Float32Array | Uint16Array,
  rows: ArrayLike<number | bigint>,
  shape: { batch: number; tasks: number; dim: number; k: number },
): Float32Array {
  const { batch, tasks, dim, k } = shape;
  const value =
    table instanceof Float32Array ? (i: number) => table[i]! : (i: number) => fromFloat16Bits(table[i]!);
  const out = new Float32Array(batch * tasks * k);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < k; j++) {
      const row = Number(rows[b * k + j]!);
      for (let t = 0; t < tasks; t++) {
        let s = 0;
        for (let i = 0; i < dim; i++)
          s += query[(b * tasks + t) * dim + i]! * value((row * tasks + t) * dim + i);
        out[(b * tasks + t) * k + j] = 1 / (1 + Math.exp(-s));
      }
    }
  }
  return out;
}
