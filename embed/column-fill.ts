// Copies one decoded Parquet column chunk (as hyparquet hands it over: a typed array for a
// column of a plain type, REQUIRED, or OPTIONAL in a page with no null (patches/hyparquet+1.33.0.patch);
// a plain Array otherwise, e.g. for a page with nulls, where null marks a missing value) into the shard's row-major tensors, checking every value on the
// way. A check failure is returned, not thrown, as the first bad row of the chunk: the reader
// (catalogue.ts) collects them across columns and names the file, row group and row.
//
// Typed arrays take a fast path: ids are one memory copy, INT64 categoricals are copied as two
// 32-bit halves (no BigInt per value), floats are checked with one subtraction. Node only runs
// on little-endian machines, which the 32-bit halves rely on.
//
// API:
//   fillIds(src, srcStart, n, ids, at) → BadValue | undefined
//   fillDense(src, srcStart, n, dense, width, column, at) → BadValue | undefined
//   fillCategorical(src, srcStart, n, categorical, width, column, at) → BadValue | undefined

/** The first value of a chunk that cannot be used: its row within the destination, the value. */
export interface BadValue {
  row: number;
  value: unknown;
}

type Chunk = ArrayLike<unknown>;

/** ids[at + i] = src[srcStart + i] for i < n, as unsigned 64-bit (an INT64 id's bits). */
export function fillIds(
  src: Chunk,
  srcStart: number,
  n: number,
  ids: BigUint64Array,
  at: number,
): BadValue | undefined {
  if (src instanceof BigInt64Array) {
    new BigInt64Array(ids.buffer, ids.byteOffset, ids.length).set(src.subarray(srcStart, srcStart + n), at);
    return undefined;
  }
  if (src instanceof BigUint64Array) {
    ids.set(src.subarray(srcStart, srcStart + n), at);
    return undefined;
  }
  for (let i = 0; i < n; i++) {
    const v = src[srcStart + i];
    if (typeof v === 'bigint') ids[at + i] = BigInt.asUintN(64, v);
    else if (typeof v === 'number' && Number.isInteger(v)) ids[at + i] = BigInt.asUintN(64, BigInt(v));
    else return { row: at + i, value: v };
  }
  return undefined;
}

/** dense[(at + i) × width + column] = src[srcStart + i]; each must be finite as a float32. */
export function fillDense(
  src: Chunk,
  srcStart: number,
  n: number,
  dense: Float32Array,
  width: number,
  column: number,
  at: number,
): BadValue | undefined {
  if (src instanceof Float32Array || src instanceof Float64Array || src instanceof Int32Array) {
    for (let i = 0, k = at * width + column; i < n; i++, k += width) {
      dense[k] = src[srcStart + i]!;
      // NaN and ±Infinity give NaN; a double beyond float32's range was stored as ±Infinity
      if (dense[k]! - dense[k]! !== 0) return { row: at + i, value: src[srcStart + i] };
    }
    return undefined;
  }
  for (let i = 0, k = at * width + column; i < n; i++, k += width) {
    const v = src[srcStart + i];
    if (typeof v !== 'number') return { row: at + i, value: v };
    dense[k] = v;
    if (dense[k]! - dense[k]! !== 0) return { row: at + i, value: v };
  }
  return undefined;
}

/** categorical[(at + i) × width + column] = src[srcStart + i]; each must be an integer. */
export function fillCategorical(
  src: Chunk,
  srcStart: number,
  n: number,
  categorical: BigInt64Array,
  width: number,
  column: number,
  at: number,
): BadValue | undefined {
  const dst32 = new Int32Array(categorical.buffer, categorical.byteOffset, categorical.length * 2);
  if (src instanceof BigInt64Array) {
    const src32 = new Int32Array(src.buffer, src.byteOffset, src.length * 2);
    for (let i = 0, k = 2 * (at * width + column), s = 2 * srcStart; i < n; i++, k += 2 * width, s += 2) {
      dst32[k] = src32[s]!;
      dst32[k + 1] = src32[s + 1]!;
    }
    return undefined;
  }
  if (src instanceof Int32Array) {
    for (let i = 0, k = 2 * (at * width + column); i < n; i++, k += 2 * width) {
      const v = src[srcStart + i]!;
      dst32[k] = v;
      dst32[k + 1] = v >> 31; // sign extension
    }
    return undefined;
  }
  for (let i = 0, k = at * width + column; i < n; i++, k += width) {
    const v = src[srcStart + i];
    if (typeof v === 'bigint') categorical[k] = BigInt.asIntN(64, v);
    else if (typeof v === 'number' && Number.isInteger(v)) categorical[k] = BigInt(v);
    else return { row: at + i, value: v };
  }
  return undefined;
}
