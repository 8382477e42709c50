// The reference two-tower model's configuration: sizes of both towers, the tasks, the embedding
// dim and the weight seed. REFERENCE_CONFIG is the default (4 experts, tasks ctr + good_click,
// 64-dim embeddings, 16 dense + 4 categorical features with vocab 1000).
//
// API:
//   interface CrossLayerSpec { rank: number }          rank 0 = full-rank W, else W = U·Vᵀ of that rank
//   interface TowerConfig { numDense; numCategorical; vocabSize; embeddingDim; experts;
//     crossLayers: CrossLayerSpec[]; gateHidden; towerHidden: number[]; outputScale }
//   interface ModelKitConfig { seed: number; tasks: string[]; dim: number; query: TowerConfig; item: TowerConfig }
//   REFERENCE_CONFIG: ModelKitConfig
//   modelConfig(overrides?: DeepPartial): ModelKitConfig      defaults + overrides, validated
//   towerInputWidth(t: TowerConfig): number                   numDense + numCategorical × embeddingDim
import { z } from 'zod';

export interface CrossLayerSpec {
  /** 0: full-rank `x0 ⊙ (W x + b) + x`; r > 0: low-rank `x0 ⊙ (U (Vᵀ x) + b) + x`. */
  rank: number;
}

export interface TowerConfig {
  numDense: number;
  numCategorical: number;
  /** Categorical ids are taken modulo vocabSize (the hashing trick): any int64 id is valid. */
  vocabSize: number;
  embeddingDim: number;
  experts: number;
  crossLayers: CrossLayerSpec[];
  gateHidden: number;
  towerHidden: number[];
  /** Each task embedding is L2-normalised and multiplied by this, so |q·p| ≤ scale_q·scale_p. */
  outputScale: number;
}

export interface ModelKitConfig {
  seed: number;
  tasks: string[];
  dim: number;
  query: TowerConfig;
  item: TowerConfig;
}

const towerDefaults: TowerConfig = {
  numDense: 16,
  numCategorical: 4,
  vocabSize: 1000,
  embeddingDim: 16,
  experts: 4,
  crossLayers: [{ rank: 0 }, { rank: 16 }],
  gateHidden: 32,
  towerHidden: [64],
  outputScale: 2,
};

export const REFERENCE_CONFIG: ModelKitConfig = {
  seed: 42,
  tasks: ['ctr', 'good_click'],
  dim: 64,
  query: towerDefaults,
  item: towerDefaults,
};

const pos = z.number().int().positive();
const towerSchema = z.object({
  numDense: pos,
  numCategorical: z.number().int().nonnegative(),
  vocabSize: pos,
  embeddingDim: pos,
  experts: pos,
  crossLayers: z.array(z.object({ rank: z.number().int().nonnegative() })).min(1),
  gateHidden: pos,
  towerHidden: z.array(pos),
  outputScale: z.number().positive(),
});
const configSchema = z.object({
  seed: z.number().int().nonnegative(),
  tasks: z
    .array(z.string().regex(/^[a-z][a-z0-9_]*$/))
    .min(1)
    .refine((t) => new Set(t).size === t.length, 'tasks must be distinct'),
  dim: pos,
  query: towerSchema,
  item: towerSchema,
});

export type ModelKitOverrides = Partial<Omit<ModelKitConfig, 'query' | 'item'>> & {
  query?: Partial<TowerConfig>;
  item?: Partial<TowerConfig>;
};

export function modelConfig(overrides: ModelKitOverrides = {}): ModelKitConfig {
  const merged = {
    ...REFERENCE_CONFIG,
    ...overrides,
    query: { ...REFERENCE_CONFIG.query, ...overrides.query },
    item: { ...REFERENCE_CONFIG.item, ...overrides.item },
  };
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RangeError(`model config: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

export function towerInputWidth(t: TowerConfig): number {
  return t.numDense + t.numCategorical * t.embeddingDim;
}
