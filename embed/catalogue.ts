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
//   readRowGroup(unit, columns) → { ids, dense, categorical }
import {
  asyncBufferFromFile,
  parquetMetadataAsync,
  parquetRead,
  type AsyncBuffer,
  type FileMetaData,
} from 'hyparquet';
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

/** The rows of one row group, checked; read column by column (no object per row). */
export async function readRowGroup(unit: RowGroupUnit, columns: CatalogueColumns): Promise<CatalogueRows> {
  const where = (row: number) => `${unit.file}: row group ${unit.rowGroup}, row ${unit.rowStart + row}`;
  const names = [columns.id, ...columns.dense, ...columns.categorical];
  const data = new Map<string, ArrayLike<unknown>[]>(names.map((n) => [n, []]));
  const filled = new Map<string, number>(names.map((n) => [n, 0]));
  const end = unit.rowStart + unit.rows;
  try {
    await parquetRead({
      file: unit.buffer,
      metadata: unit.metadata,
      columns: names,
      rowStart: unit.rowStart,
      rowEnd: end,
      onChunk: (chunk) => {
        // a chunk may hold rows outside the range asked for: keep the row group's own
        const from = Math.max(chunk.rowStart, unit.rowStart);
        const to = Math.min(chunk.rowEnd, end);
        if (to <= from) return;
        const col = chunk.columnData as ArrayLike<unknown> & {
          slice(a: number, b: number): ArrayLike<unknown>;
        };
        data.get(chunk.columnName)?.push(col.slice(from - chunk.rowStart, to - chunk.rowStart));
        filled.set(chunk.columnName, (filled.get(chunk.columnName) ?? 0) + (to - from));
      },
    });
  } catch (err) {
    throw new CatalogueError(
      `${unit.file}: row group ${unit.rowGroup} unreadable (${(err as Error).message})`,
    );
  }
  for (const name of names)
    if (filled.get(name) !== unit.rows)
      throw new CatalogueError(
        `${unit.file}: row group ${unit.rowGroup}: column "${name}" has ${filled.get(name) ?? 0} of ${unit.rows} rows`,
      );
  const column = (name: string): ArrayLike<unknown> => {
    const runs = data.get(name)!;
    return runs.length === 1 ? runs[0]! : runs.flatMap((r) => Array.from(r));
  };
  const nd = columns.dense.length;
  const nc = columns.categorical.length;
  const ids = new BigUint64Array(unit.rows);
  const dense = new Float32Array(unit.rows * nd);
  const categorical = new BigInt64Array(unit.rows * nc);
  const idCol = column(columns.id);
  for (let r = 0; r < unit.rows; r++) {
    const id = idCol[r];
    if (typeof id !== 'bigint' && typeof id !== 'number')
      throw new CatalogueError(`${where(r)}: no item id in column "${columns.id}"`);
    ids[r] = BigInt.asUintN(64, BigInt(id));
  }
  columns.dense.forEach((c, j) => {
    const col = column(c);
    for (let r = 0; r < unit.rows; r++) {
      const v = col[r];
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new CatalogueError(
          `${where(r)}: dense feature "${c}" is ${String(v)} (a finite number is needed)`,
        );
      dense[r * nd + j] = v;
    }
  });
  columns.categorical.forEach((c, j) => {
    const col = column(c);
    for (let r = 0; r < unit.rows; r++) {
      const v = col[r];
      if (typeof v !== 'bigint' && !(typeof v === 'number' && Number.isInteger(v)))
        throw new CatalogueError(
          `${where(r)}: categorical feature "${c}" is ${String(v)} (an integer is needed)`,
        );
      categorical[r * nc + j] = BigInt(v);
    }
  });
  return { ids, dense, categorical };
}
