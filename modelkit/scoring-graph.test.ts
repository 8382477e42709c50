import * as ort from 'onnxruntime-node';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { float32ToFloat16 } from '../snapshot/float16.js';
import { scoreReference } from './reference.js';
import { buildScoringModel } from './scoring-graph.js';
import { mulberry32 } from './weights.js';

const N = 500;
const T = 2;
const D = 16;
const rand = mulberry32(11);
const table = Float32Array.from({ length: N * T * D }, () => rand() - 0.5);
const table16 = float32ToFloat16(table);

function feeds(batch: number, k: number) {
  const query = Float32Array.from({ length: batch * T * D }, () => rand() * 2 - 1);
  const rows = BigInt64Array.from({ length: batch * k }, () => BigInt(Math.floor(rand() * N)));
  return {
    query,
    rows,
    tensors: {
      query: new ort.Tensor('float32', query, [batch, T, D]),
      rows: new ort.Tensor('int64', rows, [batch, k]),
    },
  };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('scoring graph vs plain-TS dot + sigmoid', () => {
  for (const [dtype, tbl] of [
    ['float32', table],
    ['float16', table16],
  ] as const) {
    it(`${dtype}, inline table`, async () => {
      const s = await ort.InferenceSession.create(
        buildScoringModel({ tasks: T, dim: D, rows: N, dtype, table: tbl }),
      );
      for (const [batch, k] of [
        [1, 1],
        [3, 40],
        [8, 200],
      ] as const) {
        const f = feeds(batch, k);
        const out = await s.run(f.tensors);
        expect(out.scores!.dims).toEqual([batch, T, k]);
        const want = scoreReference(f.query, tbl, f.rows, { batch, tasks: T, dim: D, k });
        expect(maxAbsDiff(out.scores!.data as Float32Array, want)).toBeLessThanOrEqual(1e-6);
      }
    });

    it(`${dtype}, external table read from a file beside the model`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'lightrank-scoring-'));
      dirs.push(dir);
      await writeFile(join(dir, 'embeddings.bin'), new Uint8Array(tbl.buffer));
      const path = join(dir, 'scoring.onnx');
      const bytes = buildScoringModel({
        tasks: T,
        dim: D,
        rows: N,
        dtype,
        table: { location: 'embeddings.bin' },
      });
      expect(bytes.length).toBeLessThan(4096); // the matrix is not copied into the protobuf
      await writeFile(path, bytes);
      const s = await ort.InferenceSession.create(path);
      const f = feeds(4, 64);
      const out = await s.run(f.tensors);
      const want = scoreReference(f.query, tbl, f.rows, { batch: 4, tasks: T, dim: D, k: 64 });
      expect(maxAbsDiff(out.scores!.data as Float32Array, want)).toBeLessThanOrEqual(1e-6);
    });
  }

  it('top-K variant returns the k best per task, best first', async () => {
    const s = await ort.InferenceSession.create(
      buildScoringModel({ tasks: T, dim: D, rows: N, dtype: 'float32', table, topK: true }),
    );
    const batch = 2;
    const K = 30;
    const k = 5;
    const f = feeds(batch, K);
    const out = await s.run({
      ...f.tensors,
      k: new ort.Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]),
    });
    expect(out.top_scores!.dims).toEqual([batch, T, k]);
    expect(out.top_indices!.dims).toEqual([batch, T, k]);
    const all = scoreReference(f.query, table, f.rows, { batch, tasks: T, dim: D, k: K });
    const values = out.top_scores!.data as Float32Array;
    const indices = out.top_indices!.data as BigInt64Array;
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < T; t++) {
        const row = Array.from(all.subarray((b * T + t) * K, (b * T + t + 1) * K));
        const best = [...row].sort((x, y) => y - x).slice(0, k);
        const got = Array.from(values.subarray((b * T + t) * k, (b * T + t + 1) * k));
        expect(maxAbsDiff(Float32Array.from(got), Float32Array.from(best))).toBeLessThanOrEqual(1e-6);
        for (let j = 0; j < k; j++) {
          const idx = Number(indices[(b * T + t) * k + j]!);
          expect(Math.abs(row[idx]! - got[j]!)).toBeLessThanOrEqual(1e-6);
        }
      }
    }
  });

  it('refuses a table whose type disagrees with dtype', () => {
    expect(() => buildScoringModel({ tasks: T, dim: D, rows: N, dtype: 'float16', table })).toThrow(
      /Uint16Array/,
    );
  });
});
