import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import { modelConfig, REFERENCE_CONFIG } from './config.js';
import { towerFingerprint } from './fingerprint.js';
import { runTowerReference } from './reference.js';
import { buildTowerModel } from './tower-graph.js';
import { generateTowerWeights, mulberry32, type TowerKind } from './weights.js';

function inputs(batch: number, numDense: number, numCategorical: number, seed: number) {
  const rand = mulberry32(seed);
  const dense = Float32Array.from({ length: batch * numDense }, () => rand() * 4 - 2);
  // Ids well beyond the vocab, negative ones and 64-bit ones: all map into the tables (mod vocab).
  const categorical = BigInt64Array.from({ length: batch * numCategorical }, (_, i) =>
    i % 5 === 0
      ? -BigInt(Math.floor(rand() * 1e6))
      : i % 7 === 0
        ? 2n ** 62n + BigInt(i)
        : BigInt(Math.floor(rand() * 1e9)),
  );
  return { dense, categorical };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('MMoE-DCN towers in ONNX Runtime vs the plain-TS reference', () => {
  const config = REFERENCE_CONFIG;
  const item = generateTowerWeights(config, 'item');
  const fingerprint = towerFingerprint(config, item);

  for (const tower of ['query', 'item'] as TowerKind[]) {
    it(`${tower} tower: max abs error ≤ 1e-5 for batch sizes 1, 7, 64`, async () => {
      const w = tower === 'item' ? item : generateTowerWeights(config, 'query');
      const session = await ort.InferenceSession.create(buildTowerModel(w, fingerprint));
      expect(session.inputNames).toEqual(['dense', 'categorical']);
      expect(session.outputNames).toEqual([tower]);
      for (const batch of [1, 7, 64]) {
        const { dense, categorical } = inputs(batch, w.config.numDense, w.config.numCategorical, batch);
        const out = await session.run({
          dense: new ort.Tensor('float32', dense, [batch, w.config.numDense]),
          categorical: new ort.Tensor('int64', categorical, [batch, w.config.numCategorical]),
        });
        const got = out[tower]!;
        expect(got.dims).toEqual([batch, 2, 64]);
        const want = runTowerReference(w, dense, categorical);
        expect(maxAbsDiff(got.data as Float32Array, want)).toBeLessThanOrEqual(1e-5);
        // Embeddings are not degenerate: they differ across the batch and have norm outputScale.
        const v = want.subarray(0, 64);
        expect(Math.hypot(...v)).toBeCloseTo(config[tower].outputScale, 4);
        if (batch > 1)
          expect(maxAbsDiff(want.subarray(0, 128), want.subarray(128, 256))).toBeGreaterThan(0.05);
      }
      await session.release();
    });
  }

  it('writes fingerprint, tower, tasks, dim and I/O names into the metadata', () => {
    const bytes = buildTowerModel(generateTowerWeights(config, 'query'), fingerprint);
    const model = onnxProto.onnx.ModelProto.decode(bytes);
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    expect(meta).toMatchObject({
      'lightrank.tower': 'query',
      'lightrank.fingerprint': fingerprint,
      'lightrank.tasks': '["ctr","good_click"]',
      'lightrank.dim': '64',
      'lightrank.inputs': '["dense","categorical"]',
      'lightrank.outputs': '["query"]',
      'lightrank.numDense': '16',
      'lightrank.numCategorical': '4',
    });
    expect(fingerprint).toMatch(/^[0-9a-f]{32}$/);
  });

  it('is deterministic per seed, and the fingerprint follows config and seed', () => {
    const again = generateTowerWeights(config, 'item');
    expect(towerFingerprint(config, again)).toBe(fingerprint);
    const other = modelConfig({ seed: 7 });
    expect(towerFingerprint(other, generateTowerWeights(other, 'item'))).not.toBe(fingerprint);
    const wider = modelConfig({ item: { gateHidden: 8 } });
    expect(towerFingerprint(wider, generateTowerWeights(wider, 'item'))).not.toBe(fingerprint);
  });

  it('handles other sizes (one task, one expert, no categorical, deep towers)', async () => {
    const c = modelConfig({
      tasks: ['ctr'],
      dim: 8,
      query: {
        numCategorical: 0,
        experts: 1,
        crossLayers: [{ rank: 3 }, { rank: 0 }, { rank: 2 }],
        towerHidden: [],
      },
      item: { numDense: 3, towerHidden: [16, 8] },
    });
    for (const tower of ['query', 'item'] as TowerKind[]) {
      const w = generateTowerWeights(c, tower);
      const s = await ort.InferenceSession.create(buildTowerModel(w, 'fp'));
      const { dense, categorical } = inputs(5, w.config.numDense, w.config.numCategorical, 3);
      const out = await s.run({
        dense: new ort.Tensor('float32', dense, [5, w.config.numDense]),
        categorical: new ort.Tensor('int64', categorical, [5, w.config.numCategorical]),
      });
      expect(out[tower]!.dims).toEqual([5, 1, 8]);
      expect(
        maxAbsDiff(out[tower]!.data as Float32Array, runTowerReference(w, dense, categorical)),
      ).toBeLessThanOrEqual(1e-5);
    }
  });

  it('refuses invalid configs naming the field', () => {
    expect(() => modelConfig({ tasks: ['ctr', 'ctr'] })).toThrow(/tasks/);
    expect(() => modelConfig({ query: { experts: 0 } })).toThrow(/query\.experts/);
  });
});
