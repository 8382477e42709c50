// Seeded weights for one tower of the reference model, in the layout both the ONNX builder and
// the plain-TS reference read. Deterministic: the same config and seed give the same bytes.
// Dense layers compute `x · W + b` with W stored row-major [in, out].
//
// API:
//   interface DenseWeights { w: Float32Array; b: Float32Array; in: number; out: number }
//   type CrossWeights = { rank: 0; w: Float32Array /*[D,D]*/; b: Float32Array }
//                     | { rank: number; v: Float32Array /*[D,r]*/; u: Float32Array /*[r,D]*/; b: Float32Array }
//   interface TowerWeights { tower: 'query'|'item'; config: TowerConfig; tasks: string[]; dim: number;
//     table: Float32Array /*[numCategorical·vocab, embeddingDim]*/; experts: CrossWeights[][];
//     gates: DenseWeights[][] /*per task: hidden, out*/; towers: DenseWeights[][] /*per task*/ }
//   generateTowerWeights(config: ModelKitConfig, tower: 'query'|'item'): TowerWeights
//   mulberry32(seed: number): () => number                   uniform [0, 1)
import { towerInputWidth, type ModelKitConfig, type TowerConfig } from './config.js';

export type TowerKind = 'query' | 'item';

export interface DenseWeights {
  w: Float32Array;
  b: Float32Array;
  in: number;
  out: number;
}

export type CrossWeights =
  | { rank: 0; w: Float32Array; b: Float32Array }
  | { rank: number; v: Float32Array; u: Float32Array; b: Float32Array };

export interface TowerWeights {
  tower: TowerKind;
  config: TowerConfig;
  tasks: string[];
  dim: number;
  table: Float32Array;
  experts: CrossWeights[][];
  gates: DenseWeights[][];
  towers: DenseWeights[][];
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateTowerWeights(config: ModelKitConfig, tower: TowerKind): TowerWeights {
  const t = config[tower];
  const rand = mulberry32((config.seed * 2654435761 + (tower === 'query' ? 1 : 2)) >>> 0);
  const uniform = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const dense = (inDim: number, outDim: number): DenseWeights => ({
    w: uniform(inDim * outDim, Math.sqrt(6 / (inDim + outDim))),
    b: uniform(outDim, 0.1),
    in: inDim,
    out: outDim,
  });
  const d = towerInputWidth(t);
  // Small cross weights keep the product x0 ⊙ (W x) from growing layer over layer.
  const cross = (rank: number): CrossWeights =>
    rank === 0
      ? { rank: 0, w: uniform(d * d, 0.5 / Math.sqrt(d)), b: uniform(d, 0.1) }
      : {
          rank,
          v: uniform(d * rank, 0.7 / Math.sqrt(d)),
          u: uniform(rank * d, 0.7 / Math.sqrt(rank)),
          b: uniform(d, 0.1),
        };
  const table = uniform(t.numCategorical * t.vocabSize * t.embeddingDim, 1);
  const experts = Array.from({ length: t.experts }, () => t.crossLayers.map((l) => cross(l.rank)));
  const gates = config.tasks.map(() => [dense(d, t.gateHidden), dense(t.gateHidden, t.experts)]);
  const towers = config.tasks.map(() => {
    const widths = [d, ...t.towerHidden, config.dim];
    return widths.slice(1).map((w, i) => dense(widths[i]!, w));
  });
  return { tower, config: t, tasks: [...config.tasks], dim: config.dim, table, experts, gates, towers };
}
