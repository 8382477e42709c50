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
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';

export interface CatalogueColumns {
  id: string;
  dense: string[];
  categorical: string[];
}

export interface RowGroupUnit {
  file: string;
  rowGroup: number;
  /** index of the row group's first row in its file */
  rowStart: number;
  rows: number;
}

export class CatalogueError extends Error {
  override readonly name = 'CatalogueError';
}

/** Every row group of the files, in file order then row-group order. */
export async function listRowGroups(files: string[]): Promise<RowGroupUnit[]> {
  const units: RowGroupUnit[] = [];
  for (const file of [...files].sort()) {
    let metadata;
    try {
      metadata = await parquetMetadataAsync(await asyncBufferFromFile(file));
    } catch (err) {
      throw new CatalogueError(`${file}: not a readable Parquet file (${(err as Error).message})`);
    }
    let rowStart = 0;
    metadata.row_groups.forEach((rg, rowGroup) => {
      const rows = Number(rg.num_rows);
      units.push({ file, rowGroup, rowStart, rows });
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

/** The rows of one row group, checked. */
export async function readRowGroup(unit: RowGroupUnit, columns: CatalogueColumns): Promise<CatalogueRows> {
  const where = (row: number) => `${unit.file}: row group ${unit.rowGroup}, row ${unit.rowStart + row}`;
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({
      file: await asyncBufferFromFile(unit.file),
      columns: [columns.id, ...columns.dense, ...columns.categorical],
      rowStart: unit.rowStart,
      rowEnd: unit.rowStart + unit.rows,
    });
  } catch (err) {
    throw new CatalogueError(
      `${unit.file}: row group ${unit.rowGroup} unreadable (${(err as Error).message})`,
    );
  }
  if (rows.length !== unit.rows)
    throw new CatalogueError(
      `${unit.file}: row group ${unit.rowGroup} has ${rows.length} rows, its footer says ${unit.rows}`,
    );
  const nd = columns.dense.length;
  const nc = columns.categorical.length;
  const ids = new BigUint64Array(rows.length);
  const dense = new Float32Array(rows.length * nd);
  const categorical = new BigInt64Array(rows.length * nc);
  rows.forEach((row, r) => {
    const id = row[columns.id];
    if (typeof id !== 'bigint' && typeof id !== 'number')
      throw new CatalogueError(`${where(r)}: no item id in column "${columns.id}"`);
    ids[r] = BigInt.asUintN(64, BigInt(id));
    columns.dense.forEach((c, j) => {
      const v = row[c];
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new CatalogueError(
          `${where(r)}: dense feature "${c}" is ${String(v)} (a finite number is needed)`,
        );
      dense[r * nd + j] = v;
    });
    columns.categorical.forEach((c, j) => {
      const v = row[c];
      if (typeof v !== 'bigint' && !(typeof v === 'number' && Number.isInteger(v)))
        throw new CatalogueError(
          `${where(r)}: categorical feature "${c}" is ${String(v)} (an integer is needed)`,
        );
      categorical[r * nc + j] = BigInt(v);
    });
  });
  return { ids, dense, categorical };
}
