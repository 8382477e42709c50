// The item catalogue the offline item tower reads: Parquet files (read with hyparquet), one row
// per item — an id column (INT64, read as unsigned 64-bit), the item tower's dense feature
// columns (FLOAT/DOUBLE) and categorical feature columns (INT32/INT64). The unit of work is one
// row group: a build's shards take the catalogue's row groups in turn (row group i of the sorted
// list goes to shard i mod count), so shards are balanced without reading any data first.
// A bad row (no id, a missing, NaN or infinite feature) fails the read with a CatalogueError
// naming the file, the row group and the row.
//
// API:
//   listRowGroups(files) → RowGroupUnit[]              from the files' footers only
//   shardRowGroups(units, index, count) → RowGroupUnit[]
//   readRowGroup(unit, columns) → { ids, dense, categorical }   (tensors filled from the column chunks)
import {
  asyncBufferFromFile,
  parquetMetadataAsync,
  parquetRead,
  type AsyncBuffer,
  type FileMetaData,
} from 'hyparquet';
import { fillCategorical, fillDense, fillIds, type BadValue } from './column-fill.js';
import type { CatalogueFile } from './storage.js';

export interface CatalogueColumns {
  id: string;
  dense: string[];
  categorical: string[];
}

export interface RowGroupUnit {
  /** the file's name in messages (a path or URI) */
  file: string;
  /** the file's bytes (footer read already; row groups read when the unit is) */
  buffer: AsyncBuffer;
  /** the file's footer, parsed once for all its row groups */
  metadata: FileMetaData;
  rowGroup: number;
  /** index of the row group's first row in its file */
  rowStart: number;
  rows: number;
}

/** A build input that no retry can fix (bad data, a wrong tower): the shard exits with code 2. */
export class BuildInputError extends Error {
  override readonly name: string = 'BuildInputError';
}

export class CatalogueError extends BuildInputError {
  override readonly name = 'CatalogueError';
}

/** Every row group of the files (paths, or storage files from storage.ts), in name order. */
export async function listRowGroups(files: (string | CatalogueFile)[]): Promise<RowGroupUnit[]> {
  const units: RowGroupUnit[] = [];
  const sources = files.map((f) =>
    typeof f === 'string' ? { name: f, open: () => asyncBufferFromFile(f) } : f,
  );
  for (const source of sources.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const file = source.name;
    let metadata;
    let buffer: AsyncBuffer;
    try {
      buffer = await source.open();
      metadata = await parquetMetadataAsync(buffer);
    } catch (err) {
      throw new CatalogueError(`${file}: not a readable Parquet file (${(err as Error).message})`);
    }
    let rowStart = 0;
    metadata.row_groups.forEach((rg, rowGroup) => {
      const rows = Number(rg.num_rows);
      units.push({ file, buffer, metadata: metadata!, rowGroup, rowStart, rows });
      rowStart += rows;
    });
  }
  return units;
}

export function shardRowGroups(units: RowGroupUnit[], index: number, count: number): RowGroupUnit[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`shard count ${count} is not ≥ 1`);
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new RangeError(`shard index ${index} is not in [0, ${count})`);
  return units.filter((_, i) => i % count === index);
}

export interface CatalogueRows {
  ids: BigUint64Array;
  /** rows × dense.length, row-major */
  dense: Float32Array;
  /** rows × categorical.length, row-major */
  categorical: BigInt64Array;
}

/** The rows of one row group, checked; read column by column into the tensors (column-fill.ts). */
export async function readRowGroup(unit: RowGroupUnit, columns: CatalogueColumns): Promise<CatalogueRows> {
  const names = [columns.id, ...columns.dense, ...columns.categorical];
  const nd = columns.dense.length;
  const nc = columns.categorical.length;
  const ids = new BigUint64Array(unit.rows);
  const dense = new Float32Array(unit.rows * nd);
  const categorical = new BigInt64Array(unit.rows * nc);
  // column c: 0 = the id, 1..nd the dense features, then the categorical ones
  const index = new Map(names.map((n, c) => [n, c]));
  const filled = names.map(() => 0);
  // the first bad value met in each column; chunks arrive in any order across columns
  const bad: (BadValue | undefined)[] = names.map(() => undefined);
  let failure: unknown;
  const end = unit.rowStart + unit.rows;
  try {
    await parquetRead({
      file: unit.buffer,
      metadata: unit.metadata,
      columns: names,
      rowStart: unit.rowStart,
      rowEnd: end,
      // called from inside hyparquet's promises: nothing may be thrown from here
      onChunk: (chunk) => {
        try {
          const c = index.get(chunk.columnName);
          // a chunk may hold rows outside the range asked for: keep the row group's own
          const from = Math.max(chunk.rowStart, unit.rowStart);
          const to = Math.min(chunk.rowEnd, end);
          if (c === undefined || to <= from) return;
          const src = chunk.columnData as ArrayLike<unknown>;
          const at = from - unit.rowStart;
          const s = from - chunk.rowStart;
          const found =
            c === 0
              ? fillIds(src, s, to - from, ids, at)
              : c <= nd
                ? fillDense(src, s, to - from, dense, nd, c - 1, at)
                : fillCategorical(src, s, to - from, categorical, nc, c - 1 - nd, at);
          filled[c]! += to - from;
          if (found && (bad[c] === undefined || found.row < bad[c]!.row)) bad[c] = found;
        } catch (err) {
          failure ??= err;
        }
      },
    });
  } catch (err) {
    throw new CatalogueError(
      `${unit.file}: row group ${unit.rowGroup} unreadable (${(err as Error).message})`,
    );
  }
  if (failure !== undefined)
    throw new CatalogueError(
      `${unit.file}: row group ${unit.rowGroup} unreadable (${(failure as Error).message})`,
    );
  names.forEach((name, c) => {
    if (filled[c] !== unit.rows)
      throw new CatalogueError(
        `${unit.file}: row group ${unit.rowGroup}: column "${name}" has ${filled[c]} of ${unit.rows} rows`,
      );
  });
  // the first column in the build's order with a bad value, and its first bad row
  const c = bad.findIndex((b) => b !== undefined);
  if (c >= 0) {
    const { row, value } = bad[c]!;
    const where = `${unit.file}: row group ${unit.rowGroup}, row ${unit.rowStart + row}`;
    if (c === 0)
      throw new CatalogueError(`${where}: no item id in column "${columns.id}" (${String(value)})`);
    if (c <= nd)
      throw new CatalogueError(
        `${where}: dense feature "${names[c]}" is ${String(value)} (a finite number within float32's range is needed)`,
      );
    throw new CatalogueError(
      `${where}: categorical feature "${names[c]}" is ${String(value)} (an integer is needed)`,
    );
  }
  return { ids, dense, categorical };
}
