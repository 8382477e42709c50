// OIP v2 tensors → the score request, shared by every OIP codec (REST JSON, the REST binary
// extension, gRPC): input names, datatypes and shapes checked against the model's signature
// (`dense` FP32 [batch, numDense], `categorical` INT64 [batch, numCategorical], output `query`),
// and the elements gathered into typed arrays from wherever the protocol put them — JSON `data`
// (flat or nested row-major; gRPC's typed contents come flat), or raw little-endian bytes (the
// binary extension, gRPC's raw_input_contents). Also Triton's request-level parameters.
//
// API:
//   interface OipInput { name; datatype; shape; data?: unknown[]; bytes?: Buffer }
//   bindOipInputs(inputs, outputNames, model) → ScoreRequest (rows = batch; throws 400s naming inputs[i]...)
//   checkInferParameters(parameters, modelName)                       (throws 400s naming parameters.<key>)
//   DENSE, CATEGORICAL, QUERY: the tensor names
import type { ModelSignature, ScoreRequest } from '../dataplane.js';
import { invalidArgument } from '../errors.js';
import { parseInt64 } from '../schemas.js';

export const DENSE = 'dense';
export const CATEGORICAL = 'categorical';
export const QUERY = 'query';
const INPUTS: Record<string, { datatype: string; bytes: number }> = {
  [DENSE]: { datatype: 'FP32', bytes: 4 },
  [CATEGORICAL]: { datatype: 'INT64', bytes: 8 },
};

/** One input tensor, its elements in `data` (JSON-like values) or in `bytes` (raw). */
export interface OipInput {
  name: string;
  datatype: string;
  shape: readonly number[];
  data?: readonly unknown[] | undefined;
  bytes?: Buffer | undefined;
}

const isUint = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * The request-level parameters Triton reads, type-checked as Triton does; what this model cannot
 * honour is refused rather than ignored: it is not a sequence (stateful) model, so a sequence id
 * (other than 0 or "", which mean none) and sequence_start/sequence_end true are refused.
 * `priority` and `timeout` are accepted and have no effect (one queue, no deadline); keys starting
 * with `triton_` are reserved, as in Triton; other keys are custom parameters and ignored.
 */
export function checkInferParameters(
  params: Readonly<Record<string, unknown>> | undefined,
  model: string,
): void {
  if (params === undefined) return;
  const notSequence = (key: string): never => {
    throw invalidArgument(
      `parameters.${key}`,
      `model "${model}" is not a sequence (stateful) model; sequence_id, sequence_start and sequence_end are not supported`,
    );
  };
  for (const [key, value] of Object.entries(params)) {
    const field = `parameters.${key}`;
    if (key === 'sequence_id') {
      if (!isUint(value) && typeof value !== 'string')
        throw invalidArgument(field, 'expected an unsigned integer or a string');
      if (value !== 0 && value !== '') notSequence(key);
    } else if (key === 'sequence_start' || key === 'sequence_end') {
      if (typeof value !== 'boolean') throw invalidArgument(field, 'expected true or false');
      if (value) notSequence(key);
    } else if (key === 'priority' || key === 'timeout') {
      if (!isUint(value)) throw invalidArgument(field, 'expected an unsigned integer');
    } else if (key.startsWith('triton_')) {
      throw invalidArgument(field, "parameter keys starting with 'triton_' are reserved");
    }
  }
}

/** Checks the inputs and requested outputs against the model and gathers them into typed arrays. */
export function bindOipInputs(
  inputs: readonly OipInput[],
  outputNames: readonly string[] | undefined,
  model: ModelSignature,
): ScoreRequest {
  const seen = new Map<string, number>();
  inputs.forEach((t, i) => {
    if (!(t.name in INPUTS))
      throw invalidArgument(
        `inputs[${i}].name`,
        `unknown input "${t.name}"; expected ${DENSE}, ${CATEGORICAL}`,
      );
    if (seen.has(t.name)) throw invalidArgument(`inputs[${i}].name`, `input "${t.name}" given twice`);
    seen.set(t.name, i);
  });
  for (const name of Object.keys(INPUTS)) {
    if (!seen.has(name)) throw invalidArgument('inputs', `missing input "${name}"`);
  }
  outputNames?.forEach((o, i) => {
    if (o !== QUERY)
      throw invalidArgument(`outputs[${i}].name`, `unknown output "${o}"; this model has ${QUERY}`);
  });
  const di = seen.get(DENSE)!;
  const ci = seen.get(CATEGORICAL)!;
  const d = inputs[di]!;
  const c = inputs[ci]!;
  const check = (t: OipInput, i: number, width: number): number => {
    const want = INPUTS[t.name]!;
    if (t.datatype !== want.datatype)
      throw invalidArgument(
        `inputs[${i}].datatype`,
        `input "${t.name}" must be ${want.datatype}, got ${t.datatype}`,
      );
    if (t.shape.length !== 2 || t.shape[1] !== width) {
      throw invalidArgument(
        `inputs[${i}].shape`,
        `input "${t.name}" must have shape [batch, ${width}], got [${t.shape.join(', ')}]`,
      );
    }
    if (t.shape[0]! < 1) throw invalidArgument(`inputs[${i}].shape`, 'batch must be at least 1');
    if (t.bytes !== undefined && t.bytes.length !== t.shape[0]! * width * want.bytes)
      throw invalidArgument(
        `inputs[${i}]`,
        `input "${t.name}" is ${t.datatype} [${t.shape.join(', ')}]: expected ${t.shape[0]! * width * want.bytes} bytes, got ${t.bytes.length}`,
      );
    if (t.bytes === undefined && t.data === undefined)
      throw invalidArgument(`inputs[${i}].data`, `input "${t.name}" has no data`);
    return t.shape[0]!;
  };
  const rows = check(d, di, model.numDense);
  if (check(c, ci, model.numCategorical) !== rows) {
    throw invalidArgument(
      `inputs[${ci}].shape`,
      `batch ${c.shape[0]} differs from input "${DENSE}" batch ${rows}`,
    );
  }
  const dense = d.bytes
    ? fromBytes(d.bytes, (b) => new Float32Array(b))
    : denseFromData(d.data!, di, rows * model.numDense, d.shape);
  const categorical = c.bytes
    ? fromBytes(c.bytes, (b) => new BigInt64Array(b))
    : categoricalFromData(c.data!, ci, rows * model.numCategorical, c.shape);
  return {
    rows,
    dense,
    categorical,
    denseField: () => `inputs[${di}]`,
    denseInput: `inputs[${di}]`,
    batch: true,
  };
}

/** Flattens tensor data (flat or nested row-major), calling `push` on each element. */
function flatten(
  data: readonly unknown[],
  field: string,
  depth: number,
  push: (v: unknown, path: string) => void,
): void {
  data.forEach((x, i) => {
    if (Array.isArray(x)) {
      if (depth <= 1) throw invalidArgument(`${field}[${i}]`, 'nested deeper than the tensor shape');
      flatten(x, `${field}[${i}]`, depth - 1, push);
    } else push(x, `${field}[${i}]`);
  });
}

/** A raw input's bytes as a fresh (aligned) typed array; the host is little-endian. */
function fromBytes<T>(bytes: Buffer, make: (buffer: ArrayBuffer) => T): T {
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return make(copy);
}

function denseFromData(
  data: readonly unknown[],
  i: number,
  count: number,
  shape: readonly number[],
): Float32Array {
  const dense = new Float32Array(count);
  let n = 0;
  flatten(data, `inputs[${i}].data`, 2, (x, path) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || Math.abs(x) > 3.4028234663852886e38) {
      throw invalidArgument(path, 'expected a finite float32 number');
    }
    if (n >= dense.length)
      throw invalidArgument(
        `inputs[${i}].data`,
        `more than ${dense.length} elements for shape [${shape.join(', ')}]`,
      );
    dense[n++] = x;
  });
  if (n !== dense.length)
    throw invalidArgument(
      `inputs[${i}].data`,
      `expected ${dense.length} elements for shape [${shape.join(', ')}], got ${n}`,
    );
  return dense;
}

function categoricalFromData(
  data: readonly unknown[],
  i: number,
  count: number,
  shape: readonly number[],
): BigInt64Array {
  const categorical = new BigInt64Array(count);
  let n = 0;
  flatten(data, `inputs[${i}].data`, 2, (x, path) => {
    const ok =
      (typeof x === 'number' && Number.isSafeInteger(x)) || (typeof x === 'string' && /^-?\d{1,19}$/.test(x));
    const b = ok ? parseInt64(x as number | string) : undefined;
    if (b === undefined)
      throw invalidArgument(path, 'expected a 64-bit integer (a safe integer or a decimal string)');
    if (n >= categorical.length)
      throw invalidArgument(
        `inputs[${i}].data`,
        `more than ${categorical.length} elements for shape [${shape.join(', ')}]`,
      );
    categorical[n++] = b;
  });
  if (n !== categorical.length) {
    throw invalidArgument(
      `inputs[${i}].data`,
      `expected ${categorical.length} elements for shape [${shape.join(', ')}], got ${n}`,
    );
  }
  return categorical;
}
