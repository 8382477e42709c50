// A synthetic item catalogue as Parquet files, for the offline item-tower build's tests and
// benchmarks: the same items and features as generateItemIds / generateFeatures (catalogue.ts),
// so a build over these files must equal buildItemSnapshot over the same seed. Columns: `id`
// (INT64; the 64-bit id's bits), `dense_<j>` (FLOAT), `cat_<j>` (INT64). Written with
// hyparquet-writer, Snappy-compressed (its default, as Spark's). The columns are REQUIRED (no
// value may be missing) unless `nullable` is set: OPTIONAL columns, as Spark writes by default
// (read as fast once patches/hyparquet+1.33.0.patch is applied; bench/results-embed.md).
//
// API:
//   catalogueColumns(shape) → CatalogueColumns
//   writeParquetCatalogue({ dir, items, seed, shape, files, rowGroupSize }) → string[] (file paths)
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import type { CatalogueColumns } from '../embed/catalogue.js';
import { generateFeatures, generateItemIds } from './catalogue.js';

export interface FeatureShape {
  numDense: number;
  numCategorical: number;
}

export function catalogueColumns(shape: FeatureShape): CatalogueColumns {
  return {
    id: 'id',
    dense: Array.from({ length: shape.numDense }, (_, j) => `dense_${j}`),
    categorical: Array.from({ length: shape.numCategorical }, (_, j) => `cat_${j}`),
  };
}

export async function writeParquetCatalogue(opts: {
  dir: string;
  items: number;
  seed: number;
  shape: FeatureShape;
  /** how many files the items are split over (default 1) */
  files?: number;
  rowGroupSize?: number;
  /** OPTIONAL columns instead of REQUIRED (default false) */
  nullable?: boolean;
  /** the compression (default SNAPPY) */
  codec?: 'SNAPPY' | 'UNCOMPRESSED';
}): Promise<string[]> {
  const nullable = opts.nullable ?? false;
  await mkdir(opts.dir, { recursive: true });
  const fileCount = opts.files ?? 1;
  const per = Math.ceil(opts.items / fileCount);
  const cols = catalogueColumns(opts.shape);
  const paths: string[] = [];
  for (let f = 0; f < fileCount; f++) {
    const start = f * per;
    const n = Math.max(0, Math.min(per, opts.items - start));
    const ids = generateItemIds(n, opts.seed, start);
    const { dense, categorical } = generateFeatures(opts.shape, n, opts.seed, start);
    const { numDense: nd, numCategorical: nc } = opts.shape;
    const path = join(opts.dir, `part-${String(f).padStart(5, '0')}.parquet`);
    parquetWriteFile({
      filename: path,
      columnData: [
        { name: cols.id, data: Array.from(ids, (id) => BigInt.asIntN(64, id)), type: 'INT64', nullable },
        ...cols.dense.map((name, j) => ({
          name,
          data: Array.from({ length: n }, (_, r) => dense[r * nd + j]!),
          type: 'FLOAT' as const,
          nullable,
        })),
        ...cols.categorical.map((name, j) => ({
          name,
          data: Array.from({ length: n }, (_, r) => categorical[r * nc + j]!),
          type: 'INT64' as const,
          nullable,
        })),
      ],
      codec: opts.codec ?? 'SNAPPY',
      ...(opts.rowGroupSize ? { rowGroupSize: opts.rowGroupSize } : {}),
    });
    paths.push(path);
  }
  return paths;
}
