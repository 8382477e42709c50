// The Open Inference Protocol's binary tensor data extension (Triton's, also accepted by KServe
// v2) for POST /v2/models/{name}/infer. A request carrying the `Inference-Header-Content-Length`
// header has a body of that many bytes of JSON (the usual inference request) followed by raw
// tensor bytes: each input with `parameters: { binary_data_size }` instead of `data` takes the
// next that many bytes, in input order (little-endian, row-major, no padding). An output asked
// for with `parameters: { binary_data: true }` (or request-level `binary_data_output: true`)
// comes back the same way: JSON header with `parameters: { binary_data_size }` on the output,
// its bytes after it, and the response header giving the JSON part's length.
//
// This module checks the encoding only (lengths, sizes against shape × datatype width); the
// dataplane checks names, datatypes and shapes against the loaded model. BYTES tensors
// (length-prefixed elements) are refused: the model has none. Tensor bytes are read as the
// host's byte order, which is little-endian on every platform Node supports here (x64, arm64).
//
// API (server side):
//   INFERENCE_HEADER_LENGTH ('inference-header-content-length'), OIP_BINARY_TYPE
//   splitBinaryBody(body, headerValue) → { header: unknown, tail: Buffer }          (throws 400s)
//   sliceBinaryInputs(inputs, tail) → (Buffer | undefined)[]   per input: its bytes, or undefined
//                                                               when it carries JSON `data`
//   binaryOutputRequested(req, outputName) → boolean                                (throws 400s)
//   class BinaryInferResponse { body, headerLength }; encodeBinaryInferResponse(header, tensors)
// API (client side, for tests and benchmarks):
//   encodeBinaryInferRequest(header, tensors) → { body: Buffer, headerLength }
//   decodeBinaryInferResponse(body, headerLength) → { header, tensors: Map<name, Buffer> }
import { ServeError, invalidArgument } from './errors.js';
import { parseJson } from './http-body.js';

export const INFERENCE_HEADER_LENGTH = 'inference-header-content-length';
/** The media type of binary infer responses (and what Triton clients send). */
export const OIP_BINARY_TYPE = 'application/octet-stream';
const HEADER_FIELD = 'Inference-Header-Content-Length';

/** Bytes per element of each OIP datatype with a fixed width (BYTES has none). */
export const DATATYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  BF16: 2,
  FP32: 4,
  FP64: 8,
};

/** What this module reads of an input tensor in the inference header. */
export interface TensorHeader {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, unknown> | undefined;
  data?: unknown;
}

/** Splits a binary request body into its parsed JSON inference header and the bytes after it. */
export function splitBinaryBody(body: unknown, headerValue: string): { header: unknown; tail: Buffer } {
  if (!/^\d{1,15}$/.test(headerValue))
    throw invalidArgument(HEADER_FIELD, `expected a byte count, got "${headerValue}"`);
  const length = Number(headerValue);
  const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  if (length > bytes.length)
    throw invalidArgument(
      HEADER_FIELD,
      `${length} bytes of JSON header, but the body has only ${bytes.length}`,
    );
  if (length === 0) throw invalidArgument(HEADER_FIELD, 'the JSON inference header cannot be empty');
  let header: unknown;
  try {
    header = parseJson(
      bytes.toString('utf8', 0, length),
      `the inference header (the first ${length} bytes of the body)`,
    );
  } catch (err) {
    if (err instanceof ServeError && err.code === 'MALFORMED_JSON')
      throw new ServeError(err.code, err.message, HEADER_FIELD);
    throw err;
  }
  return { header, tail: bytes.subarray(length) };
}

/**
 * Each input's binary bytes, taken from `tail` in input order (undefined for inputs carrying JSON
 * `data`). Every size must equal shape × datatype width and the sizes must cover `tail` exactly.
 */
export function sliceBinaryInputs(inputs: readonly TensorHeader[], tail: Buffer): (Buffer | undefined)[] {
  let offset = 0;
  const slices = inputs.map((t, i) => {
    const size = t.parameters?.binary_data_size;
    if (size === undefined) {
      if (t.data === undefined)
        throw invalidArgument(
          `inputs[${i}].data`,
          'required (or parameters.binary_data_size, bytes after the header)',
        );
      return undefined;
    }
    const field = `inputs[${i}].parameters.binary_data_size`;
    if (t.data !== undefined)
      throw invalidArgument(
        `inputs[${i}]`,
        `input "${t.name}" has both data and parameters.binary_data_size`,
      );
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw invalidArgument(field, 'expected a non-negative integer (bytes)');
    if (t.datatype === 'BYTES')
      throw invalidArgument(
        `inputs[${i}].datatype`,
        `input "${t.name}": binary BYTES tensors are not supported (this model has no BYTES inputs)`,
      );
    const width = DATATYPE_BYTES[t.datatype];
    if (width === undefined)
      throw invalidArgument(`inputs[${i}].datatype`, `unknown datatype "${t.datatype}"`);
    const expected = t.shape.reduce((n, d) => n * d, 1) * width;
    if (size !== expected) {
      throw invalidArgument(
        field,
        `input "${t.name}" is ${t.datatype} [${t.shape.join(', ')}]: expected ${expected} bytes, got ${size}`,
      );
    }
    if (offset + size > tail.length) {
      throw invalidArgument(
        field,
        `input "${t.name}" needs ${size} bytes at offset ${offset} of the binary data, which has only ${tail.length}`,
      );
    }
    const bytes = tail.subarray(offset, offset + size);
    offset += size;
    return bytes;
  });
  if (offset !== tail.length)
    throw invalidArgument('body', `${tail.length - offset} bytes after the last binary input's data`);
  return slices;
}

/**
 * Whether output `name` goes back as binary: its own `parameters.binary_data` if the request
 * lists it with one, else the request-level `parameters.binary_data_output`, else no.
 */
export function binaryOutputRequested(
  req: {
    parameters?: Record<string, unknown> | undefined;
    outputs?: { name: string; parameters?: Record<string, unknown> | undefined }[] | undefined;
  },
  name: string,
): boolean {
  const all = req.parameters?.binary_data_output;
  if (all !== undefined && typeof all !== 'boolean')
    throw invalidArgument('parameters.binary_data_output', 'expected true or false');
  let own: boolean | undefined;
  req.outputs?.forEach((o, i) => {
    const b = o.parameters?.binary_data;
    if (b !== undefined && typeof b !== 'boolean')
      throw invalidArgument(`outputs[${i}].parameters.binary_data`, 'expected true or false');
    if (o.name === name && b !== undefined) own = b;
  });
  return own ?? all ?? false;
}

/** A binary infer response: the body (JSON header + tensor bytes) and the JSON part's length. */
export class BinaryInferResponse {
  constructor(
    readonly body: Buffer,
    readonly headerLength: number,
  ) {}
}

function joinBody(
  header: unknown,
  tensors: readonly ArrayBufferView[],
): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const parts = [json, ...tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength))];
  return { body: Buffer.concat(parts), headerLength: json.length };
}

/** The server's binary response: `header` must already carry each binary output's size. */
export function encodeBinaryInferResponse(
  header: unknown,
  tensors: readonly ArrayBufferView[],
): BinaryInferResponse {
  const { body, headerLength } = joinBody(header, tensors);
  return new BinaryInferResponse(body, headerLength);
}

/**
 * A client's binary request: `header` is the inference request whose binary inputs carry
 * `parameters.binary_data_size`; `tensors` are their bytes, in input order.
 */
export function encodeBinaryInferRequest(
  header: unknown,
  tensors: readonly ArrayBufferView[],
): { body: Buffer; headerLength: number } {
  return joinBody(header, tensors);
}

/** A client's view of a binary response: the JSON header and each binary output's bytes. */
export function decodeBinaryInferResponse(
  body: Buffer,
  headerLength: number,
): { header: { outputs: TensorHeader[] } & Record<string, unknown>; tensors: Map<string, Buffer> } {
  if (!Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > body.length)
    throw new Error(`inference header length ${headerLength} does not fit a ${body.length}-byte body`);
  const header = JSON.parse(body.toString('utf8', 0, headerLength)) as {
    outputs: TensorHeader[];
  } & Record<string, unknown>;
  const tensors = new Map<string, Buffer>();
  let offset = headerLength;
  for (const o of header.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    if (typeof size !== 'number' || offset + size > body.length)
      throw new Error(`output "${o.name}": binary_data_size ${String(size)} runs past the body`);
    tensors.set(o.name, body.subarray(offset, offset + size));
    offset += size;
  }
  if (offset !== body.length) throw new Error(`${body.length - offset} bytes after the last binary output`);
  return { header, tensors };
}
