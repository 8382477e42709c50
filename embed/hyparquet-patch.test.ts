// patches/hyparquet+1.33.0.patch, checked on hyparquet's own decoding: a flat OPTIONAL column's
// page with no nulls comes back as a typed array, as a REQUIRED column's does — v2 pages (what
// hyparquet-writer writes), v1 pages (what Spark and pyarrow write by default; built here byte by
// byte and decoded by hyparquet's readPage) and dictionary-encoded pages (v2 ones in
// catalogue.test.ts's dictionary test) — so the item tower's
// shard fills its tensors on column-fill.ts's fast path. Pages with nulls still come back as
// plain arrays with null where a value is missing, in the right rows, and the shard still refuses
// them naming the file, row group and row. Every test but the round trip of mixed pages (a check
// that the patch breaks nothing) fails on the unpatched package.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  asyncBufferFromFile,
  parquetRead,
  parquetReadObjects,
  type DecodedArray,
  type FileMetaData,
} from 'hyparquet';
import { readPage } from 'hyparquet/src/column.js';
import { DEFAULT_PARSERS } from 'hyparquet/src/convert.js';
import { getSchemaPath } from 'hyparquet/src/schema.js';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogueColumns, writeParquetCatalogue } from '../modelkit/catalogue-parquet.js';
import { listRowGroups, readRowGroup } from './catalogue.js';

const shape = { numDense: 3, numCategorical: 2 };
const columns = catalogueColumns(shape);
const names = [columns.id, ...columns.dense, ...columns.categorical];
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-hyparquet-patch-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Every column chunk hyparquet hands to onChunk (what catalogue.ts fills from), by column. */
async function chunksOf(file: string): Promise<Map<string, DecodedArray[]>> {
  const byColumn = new Map<string, DecodedArray[]>();
  for (const unit of await listRowGroups([file]))
    await parquetRead({
      file: unit.buffer,
      metadata: unit.metadata,
      columns: names,
      rowStart: unit.rowStart,
      rowEnd: unit.rowStart + unit.rows,
      onChunk: (c) => byColumn.set(c.columnName, [...(byColumn.get(c.columnName) ?? []), c.columnData]),
    });
  return byColumn;
}

const kinds = (chunks: Map<string, DecodedArray[]>) =>
  Object.fromEntries(
    [...chunks].map(([name, cs]) => [name, [...new Set(cs.map((c) => c.constructor.name))]]),
  );

const typed = {
  id: ['BigInt64Array'],
  dense_0: ['Float32Array'],
  dense_1: ['Float32Array'],
  dense_2: ['Float32Array'],
  cat_0: ['BigInt64Array'],
  cat_1: ['BigInt64Array'],
};

describe('hyparquet, patched', () => {
  it('hands over OPTIONAL columns without nulls as typed arrays, as REQUIRED ones (v2 pages)', async () => {
    for (const nullable of [false, true]) {
      const [file] = await writeParquetCatalogue({
        dir: join(root, `plain-${nullable}`),
        items: 2_000,
        seed: 3,
        shape,
        rowGroupSize: 700,
        nullable,
      });
      const units = await listRowGroups([file!]);
      const leaf = units[0]!.metadata.schema.find((e) => e.name === 'dense_0')!;
      expect(leaf.repetition_type).toBe(nullable ? 'OPTIONAL' : 'REQUIRED');
      expect(kinds(await chunksOf(file!))).toEqual(typed);
    }
  });

  it('reads pages with and without nulls in one column chunk: the same values, nulls in their rows', async () => {
    const n = 4_000;
    const file = join(root, 'mixed.parquet');
    // pages of ~1 KiB: a few hundred rows each; nulls only in the third page's rows
    const missing = (r: number) => r >= 700 && r < 1_000 && r % 7 === 0;
    const dense = Array.from({ length: n }, (_, r) => (missing(r) ? null : r / 4));
    const cat = Array.from({ length: n }, (_, r) => (missing(r) ? null : BigInt(r) - 9n));
    const dict = Array.from({ length: n }, (_, r) => (missing(r) ? null : r % 4));
    parquetWriteFile({
      filename: file,
      columnData: [
        { name: 'dense', data: dense, type: 'FLOAT', nullable: true },
        { name: 'cat', data: cat, type: 'INT64', nullable: true },
        { name: 'dict', data: dict, type: 'FLOAT', nullable: true },
      ],
      pageSize: 1024,
    });
    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file) });
    expect(rows.map((r) => r.dense)).toEqual(dense);
    expect(rows.map((r) => r.cat)).toEqual(cat);
    expect(rows.map((r) => r.dict)).toEqual(dict);
  });

  it('refuses a null in a later page, naming its row, after typed pages of the same chunk', async () => {
    const n = 5_000;
    const late = join(root, 'late-null.parquet');
    parquetWriteFile({
      filename: late,
      columnData: names.map((name) => ({
        name,
        type: name.startsWith('dense') ? ('FLOAT' as const) : ('INT64' as const),
        nullable: true,
        data: Array.from({ length: n }, (_, r) =>
          name === 'dense_1' && r === 3_210 ? null : name.startsWith('dense') ? r / 2 : BigInt(r),
        ),
      })),
      pageSize: 1024,
    });
    // typed pages before and after the one with the null, in the same column chunk
    expect(kinds(await chunksOf(late)).dense_1).toEqual(['Float32Array', 'Array']);
    const units = await listRowGroups([late]);
    const results = await Promise.allSettled(units.map((u) => readRowGroup(u, columns)));
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    const at = units.find((u) => u.rowStart <= 3_210 && 3_210 < u.rowStart + u.rows)!;
    expect(errors).toEqual([
      `${late}: row group ${at.rowGroup}, row 3210: dense feature "dense_1" is null (a finite number within float32's range is needed)`,
    ]);
  });
});

// A v1 data page (what Spark and pyarrow write by default; hyparquet-writer writes v2 only),
// byte by byte: definition levels (4-byte length, then RLE/bit-packed runs of width 1), then values.
function v1Page(levels: Uint8Array, values: Uint8Array): Uint8Array {
  const page = new Uint8Array(4 + levels.length + values.length);
  new DataView(page.buffer).setUint32(0, levels.length, true);
  page.set(levels, 4);
  page.set(values, 4 + levels.length);
  return page;
}

describe('hyparquet, patched: v1 pages', () => {
  let metadata: FileMetaData;
  beforeAll(async () => {
    const [file] = await writeParquetCatalogue({
      dir: join(root, 'v1-schema'),
      items: 10,
      seed: 1,
      shape,
      nullable: true,
      codec: 'UNCOMPRESSED',
    });
    metadata = (await listRowGroups([file!]))[0]!.metadata;
  });

  const decode = (
    page: Uint8Array,
    n: number,
    encoding: 'PLAIN' | 'RLE_DICTIONARY',
    dictionary?: DecodedArray,
  ) => {
    const schemaPath = getSchemaPath(metadata.schema, ['dense_0']);
    const element = schemaPath.at(-1)!.element;
    expect(element.repetition_type).toBe('OPTIONAL');
    return readPage(
      { view: new DataView(page.buffer), offset: 0 },
      {
        type: 'DATA_PAGE',
        uncompressed_page_size: page.length,
        compressed_page_size: page.length,
        data_page_header: {
          num_values: n,
          encoding,
          definition_level_encoding: 'RLE',
          repetition_level_encoding: 'RLE',
        },
      },
      {
        pathInSchema: ['dense_0'],
        element,
        schemaPath,
        type: 'FLOAT',
        codec: 'UNCOMPRESSED',
        parsers: DEFAULT_PARSERS,
      },
      dictionary,
      undefined,
      0,
    ).data!;
  };

  it('decodes a PLAIN page with no nulls to a Float32Array, one with a null to an Array', () => {
    const values = new Float32Array([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]);
    // one RLE run: 8 levels of 1 (every value present)
    const none = decode(v1Page(new Uint8Array([8 << 1, 1]), new Uint8Array(values.buffer)), 8, 'PLAIN');
    expect(none).toBeInstanceOf(Float32Array);
    expect(Array.from(none)).toEqual(Array.from(values));
    // one bit-packed group of 8 levels, row 2 missing: 0b11111011
    const one = decode(
      v1Page(new Uint8Array([(1 << 1) | 1, 0b11111011]), new Uint8Array(values.buffer, 0, 7 * 4)),
      8,
      'PLAIN',
    );
    expect(Array.isArray(one)).toBe(true);
    expect(one).toEqual([0.5, 1.5, null, 2.5, 3.5, 4.5, 5.5, 6.5]);
    // no nulls, but the levels bit-packed rather than one run: counted, still a Float32Array
    const packed = decode(
      v1Page(new Uint8Array([(1 << 1) | 1, 0xff]), new Uint8Array(values.buffer)),
      8,
      'PLAIN',
    );
    expect(packed).toBeInstanceOf(Float32Array);
    expect(Array.from(packed)).toEqual(Array.from(values));
    // one run, but of nulls (level 0): every value missing
    expect(decode(v1Page(new Uint8Array([8 << 1, 0]), new Uint8Array(0)), 8, 'PLAIN')).toEqual(
      Array.from({ length: 8 }, () => null),
    );
  });

  it('decodes a dictionary-encoded page with no nulls to its dictionary type', () => {
    const dictionary = new Float32Array([10, 20.5, 30.25]);
    // indices, bit width 2: four of 1, then four of 2 (two RLE runs)
    const indices = new Uint8Array([2, 4 << 1, 1, 4 << 1, 2]);
    const got = decode(v1Page(new Uint8Array([8 << 1, 1]), indices), 8, 'RLE_DICTIONARY', dictionary);
    expect(got).toBeInstanceOf(Float32Array);
    expect(Array.from(got)).toEqual([20.5, 20.5, 20.5, 20.5, 30.25, 30.25, 30.25, 30.25]);
  });
});
