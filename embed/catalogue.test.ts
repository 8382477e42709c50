// The catalogue reader on real Parquet files (hyparquet-writer writes, hyparquet reads): the
// tensors filled from REQUIRED columns and from OPTIONAL ones (typed arrays both, with the
// hyparquet patch: embed/hyparquet-patch.test.ts) are the same rows, over several row groups and several pages per column chunk;
// INT32 and DOUBLE columns are converted; every kind of bad value is refused naming the file,
// the row group and the row of the first bad value in the build's column order.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetRead } from 'hyparquet';
import { parquetWriteFile, type BasicType, type ColumnSource } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFeatures, generateItemIds } from '../modelkit/catalogue.js';
import { catalogueColumns, writeParquetCatalogue } from '../modelkit/catalogue-parquet.js';
import { listRowGroups, readRowGroup, type CatalogueRows } from './catalogue.js';
import { firstNonFinite } from './shard.js';

const shape = { numDense: 3, numCategorical: 2 };
const columns = catalogueColumns(shape);
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-catalogue-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function readAll(files: string[]): Promise<CatalogueRows[]> {
  const units = await listRowGroups(files);
  return Promise.all(units.map((u) => readRowGroup(u, columns)));
}

/** One file of n rows with the build's columns; `col` overrides a column's data/type/nullable. */
function writeFile(
  name: string,
  n: number,
  col: Record<string, { data: unknown[]; type?: BasicType; nullable?: boolean }> = {},
  nullable = false,
): string {
  const filename = join(root, name);
  const base = (name: string, type: BasicType, value: (r: number) => unknown): ColumnSource => ({
    name,
    type,
    nullable: col[name]?.nullable ?? nullable,
    data: col[name]?.data ?? Array.from({ length: n }, (_, r) => value(r)),
    ...(col[name]?.type ? { type: col[name].type } : {}),
  });
  parquetWriteFile({
    filename,
    columnData: [
      base(columns.id, 'INT64', (r) => BigInt(5000 + r)),
      ...columns.dense.map((c, j) => base(c, 'FLOAT', (r) => r + j / 4)),
      ...columns.categorical.map((c, j) => base(c, 'INT64', (r) => BigInt(r * 10 + j))),
    ],
    rowGroupSize: 4,
  });
  return filename;
}

describe('the catalogue reader', () => {
  it('fills the same tensors from REQUIRED and OPTIONAL columns, across row groups and pages', async () => {
    const items = 1_000;
    const seed = 11;
    const want = generateFeatures(shape, items, seed, 0);
    const wantIds = generateItemIds(items, seed, 0);
    for (const nullable of [false, true]) {
      const files = await writeParquetCatalogue({
        dir: join(root, `same-${nullable}`),
        items,
        seed,
        shape,
        files: 2,
        rowGroupSize: 300,
        nullable,
      });
      const units = await listRowGroups(files);
      expect(units.map((u) => u.rows)).toEqual([300, 200, 300, 200]);
      const got = await readAll(files);
      const ids = got.flatMap((g) => Array.from(g.ids));
      const dense = got.flatMap((g) => Array.from(g.dense));
      const categorical = got.flatMap((g) => Array.from(g.categorical));
      expect(ids).toEqual(Array.from(wantIds));
      expect(dense).toEqual(Array.from(want.dense));
      expect(categorical).toEqual(Array.from(want.categorical));
    }
    // several pages per column chunk: a small page size, read through the same path
    const paged = join(root, 'paged.parquet');
    const n = 5_000;
    const big = Array.from({ length: n }, (_, r) => -BigInt(r) * 3_000_000_000n);
    parquetWriteFile({
      filename: paged,
      columnData: [
        {
          name: 'id',
          data: Array.from({ length: n }, (_, r) => BigInt(r) - 2n),
          type: 'INT64',
          nullable: false,
        },
        ...columns.dense.map((c, j) => ({
          name: c,
          data: Array.from({ length: n }, (_, r) => r * 0.5 + j),
          type: 'FLOAT' as const,
          nullable: false,
        })),
        { name: 'cat_0', data: big, type: 'INT64', nullable: false },
        { name: 'cat_1', data: Array.from({ length: n }, (_, r) => r - 100), type: 'INT32', nullable: false },
      ],
      pageSize: 1024,
    });
    const groups = await readAll([paged]);
    expect(groups.length).toBeGreaterThan(1);
    const rows = {
      ids: new BigUint64Array(groups.flatMap((g) => Array.from(g.ids))),
      dense: new Float32Array(groups.flatMap((g) => Array.from(g.dense))),
      categorical: new BigInt64Array(groups.flatMap((g) => Array.from(g.categorical))),
    };
    expect(rows!.ids[0]).toBe(2n ** 64n - 2n); // the INT64 id's bits, unsigned
    expect(rows!.ids[4999]).toBe(4997n);
    expect(rows!.dense[4321 * 3 + 2]).toBe(4321 * 0.5 + 2);
    expect(rows!.categorical[4999 * 2]).toBe(-4999n * 3_000_000_000n);
    expect(rows!.categorical[7 * 2 + 1]).toBe(-93n); // INT32, sign-extended
    expect(rows!.categorical[4999 * 2 + 1]).toBe(4899n);
  });

  it('reads dictionary-encoded columns (few distinct values), REQUIRED and OPTIONAL', async () => {
    const n = 3_000;
    for (const nullable of [false, true]) {
      const file = join(root, `dict-${nullable}.parquet`);
      parquetWriteFile({
        filename: file,
        columnData: [
          { name: 'id', data: Array.from({ length: n }, (_, r) => BigInt(r)), type: 'INT64', nullable },
          ...columns.dense.map((c, j) => ({
            name: c,
            data: Array.from({ length: n }, (_, r) => (r % 3) + j * 0.5),
            type: 'FLOAT' as const,
            nullable,
          })),
          ...columns.categorical.map((c, j) => ({
            name: c,
            data: Array.from({ length: n }, (_, r) => BigInt((r % 5) - 2 + j)),
            type: 'INT64' as const,
            nullable,
          })),
        ],
      });
      const units = await listRowGroups([file]);
      const encodings = units[0]!.metadata.row_groups[0]!.columns.map((c) => c.meta_data!.encodings.join());
      expect(encodings[1]).toContain('RLE_DICTIONARY');
      expect(encodings[4]).toContain('RLE_DICTIONARY');
      // in the dictionary's type (typed arrays), with patches/hyparquet+1.33.0.patch
      const types = new Set<string>();
      await parquetRead({ file: units[0]!.buffer, onChunk: (c) => types.add(c.columnData.constructor.name) });
      expect([...types].sort()).toEqual(['BigInt64Array', 'Float32Array']);
      const got = await readAll([file]);
      const dense = got.flatMap((g) => Array.from(g.dense));
      const categorical = got.flatMap((g) => Array.from(g.categorical));
      expect(dense).toEqual(Array.from({ length: n * 3 }, (_, k) => (Math.floor(k / 3) % 3) + (k % 3) * 0.5));
      expect(categorical).toEqual(
        Array.from({ length: n * 2 }, (_, k) => BigInt((Math.floor(k / 2) % 5) - 2 + (k % 2))),
      );
    }
  });

  it('converts DOUBLE dense and INT32 categorical columns', async () => {
    const file = writeFile('types.parquet', 6, {
      dense_1: { data: [0.25, -1.5, 2, 3, 4, 1e30], type: 'DOUBLE' },
      cat_0: { data: [1, -2, 3, 4, 5, 6], type: 'INT32' },
    });
    const got = await readAll([file]);
    expect(Array.from(got[1]!.dense.filter((_, i) => i % 3 === 1))).toEqual([4, Math.fround(1e30)]);
    expect(Array.from(got[0]!.categorical.filter((_, i) => i % 2 === 0))).toEqual([1n, -2n, 3n, 4n]);
  });

  const refusals: [string, Parameters<typeof writeFile>[2], boolean, RegExp][] = [
    [
      'a missing id',
      { id: { data: [1n, 2n, 3n, 4n, 5n, null, 7n] } },
      true,
      /row group 1, row 5: no item id in column "id"/,
    ],
    [
      'a missing dense feature',
      { dense_2: { data: [1, 2, null, 4, 5, 6, 7] } },
      true,
      /row group 0, row 2: dense feature "dense_2" is null \(a finite number/,
    ],
    [
      'an infinite dense feature',
      { dense_0: { data: [1, 2, 3, 4, 5, 6, Number.POSITIVE_INFINITY] } },
      false,
      /row group 1, row 6: dense feature "dense_0" is Infinity/,
    ],
    [
      'a double beyond float32',
      { dense_1: { data: [1, 2, 3, 1e39, 5, 6, 7], type: 'DOUBLE' } },
      false,
      /row group 0, row 3: dense feature "dense_1" is 1e\+39 \(a finite number within float32's range/,
    ],
    [
      'a NaN in a later row group',
      { dense_0: { data: [1, 2, 3, 4, 5, Number.NaN, 7] } },
      false,
      /row group 1, row 5: dense feature "dense_0" is NaN/,
    ],
    [
      'a missing categorical feature',
      { cat_1: { data: [1n, 2n, 3n, 4n, null, 6n, 7n] } },
      true,
      /row group 1, row 4: categorical feature "cat_1" is null \(an integer is needed\)/,
    ],
    [
      'a categorical feature that is no integer',
      { cat_0: { data: [1.5, 2, 3, 4, 5, 6, 7], type: 'FLOAT' } },
      false,
      /row group 0, row 0: categorical feature "cat_0" is 1.5 \(an integer is needed\)/,
    ],
    [
      'a dense feature that is no number',
      { dense_0: { data: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], type: 'STRING' } },
      false,
      /row group 0, row 0: dense feature "dense_0" is a /,
    ],
    [
      'bad values in two columns: the id column is named first',
      { id: { data: [1n, 2n, 3n, 4n, 5n, 6n, null] }, dense_0: { data: [1, 2, 3, 4, Number.NaN, 6, 7] } },
      true,
      /row group 1, row 6: no item id/,
    ],
  ];
  it.each(refusals)('refuses %s, naming file, row group and row', async (what, cols, nullable, message) => {
    const file = writeFile(`bad-${what.replace(/\W+/g, '-')}.parquet`, 7, cols, nullable);
    const units = await listRowGroups([file]);
    const results = await Promise.allSettled(units.map((u) => readRowGroup(u, columns)));
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    // the first failing row group's message (a column of strings fails both)
    expect(errors[0]).toContain(`${file}: `);
    expect(errors[0]).toMatch(message);
  });

  it('refuses a column chunk that is missing', async () => {
    const file = join(root, 'no-cat.parquet');
    parquetWriteFile({
      filename: file,
      columnData: [
        { name: 'id', data: [1n, 2n], type: 'INT64' },
        ...columns.dense.map((c) => ({ name: c, data: [1, 2], type: 'FLOAT' as const })),
        { name: 'cat_0', data: [1n, 2n], type: 'INT64' },
      ],
    });
    const [unit] = await listRowGroups([file]);
    await expect(readRowGroup(unit!, columns)).rejects.toThrow(`${file}: row group 0`);
  });
});

describe('firstNonFinite', () => {
  it('finds the first NaN or infinity, anywhere in the array', () => {
    for (const n of [0, 1, 3, 4, 5, 1031]) {
      const xs = new Float32Array(n).map((_, i) => i * 0.1 - 7);
      expect(firstNonFinite(xs)).toBe(-1);
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
        for (const at of n ? [0, n - 1, Math.floor(n / 2)] : []) {
          const ys = xs.slice();
          ys[at] = bad;
          if (at + 1 < n) ys[n - 1] = Number.NaN;
          expect(firstNonFinite(ys)).toBe(at);
        }
    }
  });
});
