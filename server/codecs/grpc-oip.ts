// OIP v2 over gRPC: inference.GRPCInferenceService/ModelInfer (grpc/proto/grpc_predict_v2.proto).
// Messages arrive decoded by @grpc/proto-loader (keepCase, 64-bit integers as decimal strings,
// defaults filled in, the set oneof named). An input's elements come either in its typed
// `contents` (fp32_contents for FP32, int64_contents for INT64) or, for every input at once, in
// `raw_input_contents` (little-endian, row-major, one entry per input). Both bind through
// oip-tensors.ts, as the REST codecs do. The answer mirrors the request: raw in → the output in
// raw_output_contents (what Triton and its clients use); typed in → fp32_contents.
//
// API:
//   grpcInferCodec(limits) → Codec<ModelInferRequest, GrpcInferParsed, ModelInferResponse>
//   inferParameters(map) → Record<string, unknown>      InferParameter map → plain values
//   interface ModelInferRequest / ModelInferResponse / InferParameter (as proto-loader gives them)
import type { Codec } from '../dataplane.js';
import { invalidArgument } from '../errors.js';
import { QUERY, bindOipInputs, checkInferParameters, type OipInput } from './oip-tensors.js';

export interface InferParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

export interface InferTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: string[];
  uint_contents?: number[];
  uint64_contents?: string[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

export interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameter>;
  inputs: {
    name: string;
    datatype: string;
    shape: string[];
    parameters: Record<string, InferParameter>;
    contents?: InferTensorContents | null;
  }[];
  outputs: { name: string; parameters: Record<string, InferParameter> }[];
  raw_input_contents: Buffer[];
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: { name: string; datatype: string; shape: number[]; contents?: { fp32_contents: number[] } }[];
  raw_output_contents: Buffer[];
}

export interface GrpcInferParsed {
  msg: ModelInferRequest;
  inputs: OipInput[];
  parameters: Record<string, unknown>;
  raw: boolean;
}

/** Which repeated field of InferTensorContents holds each datatype's elements. */
const CONTENTS_FIELD: Record<string, keyof InferTensorContents> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

/** An InferParameter map as plain values (64-bit integers as numbers when safe, else strings). */
export function inferParameters(map: Record<string, InferParameter> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, p] of Object.entries(map ?? {})) {
    const choice = p.parameter_choice;
    if (choice === undefined) continue;
    const v = p[choice];
    if (choice === 'int64_param' || choice === 'uint64_param') {
      const n = Number(v);
      out[key] = Number.isSafeInteger(n) ? n : v;
    } else out[key] = v;
  }
  return out;
}

function shapeOf(dims: readonly string[], field: string): number[] {
  if (dims.length === 0 || dims.length > 8) throw invalidArgument(field, 'expected 1 to 8 dimensions');
  return dims.map((d, j) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0)
      throw invalidArgument(`${field}[${j}]`, 'dimensions must be non-negative');
    return n;
  });
}

export function grpcInferCodec(limits: {
  maxInferRows: number;
}): Codec<ModelInferRequest, GrpcInferParsed, ModelInferResponse> {
  const maxElements = limits.maxInferRows * 4096;
  return {
    parse(msg) {
      if (msg.inputs.length === 0) throw invalidArgument('inputs', 'expected at least one input tensor');
      if (msg.inputs.length > 8) throw invalidArgument('inputs', 'at most 8 input tensors');
      if (msg.outputs.length > 8) throw invalidArgument('outputs', 'at most 8 outputs');
      if (msg.id.length > 256) throw invalidArgument('id', 'at most 256 characters');
      const raw = msg.raw_input_contents.length > 0;
      if (raw && msg.raw_input_contents.length !== msg.inputs.length)
        throw invalidArgument(
          'raw_input_contents',
          `${msg.raw_input_contents.length} entries for ${msg.inputs.length} inputs; give one per input, in input order`,
        );
      const inputs = msg.inputs.map((t, i): OipInput => {
        const shape = shapeOf(t.shape, `inputs[${i}].shape`);
        if ((shape[0] ?? 0) > limits.maxInferRows)
          throw invalidArgument(`inputs[${i}].shape[0]`, `at most ${limits.maxInferRows} rows per request`);
        if (shape.reduce((n, d) => n * d, 1) > maxElements)
          throw invalidArgument(`inputs[${i}].shape`, `at most ${maxElements} elements per tensor`);
        const field = CONTENTS_FIELD[t.datatype];
        const given = Object.entries(t.contents ?? {}).filter(([, v]) => Array.isArray(v) && v.length > 0);
        if (raw) {
          if (given.length > 0)
            throw invalidArgument(
              `inputs[${i}].contents`,
              'contents and raw_input_contents cannot both be used; put every input in raw_input_contents',
            );
          return { name: t.name, datatype: t.datatype, shape, bytes: msg.raw_input_contents[i]! };
        }
        if (field === undefined)
          throw invalidArgument(`inputs[${i}].datatype`, `unknown datatype "${t.datatype}"`);
        const other = given.find(([k]) => k !== field);
        if (other)
          throw invalidArgument(
            `inputs[${i}].contents`,
            `input "${t.name}" is ${t.datatype}: its elements go in ${field}, not ${other[0]}`,
          );
        return { name: t.name, datatype: t.datatype, shape, data: (t.contents?.[field] as unknown[]) ?? [] };
      });
      return { msg, inputs, parameters: inferParameters(msg.parameters), raw };
    },

    bind(p, model) {
      checkInferParameters(p.parameters, model.name);
      return bindOipInputs(
        p.inputs,
        p.msg.outputs.map((o) => o.name),
        model,
      );
    },

    encode(p, r) {
      const query = r.query!;
      const output = { name: QUERY, datatype: 'FP32', shape: [r.rows, r.tasks.length, r.dim] };
      return {
        model_name: r.model,
        model_version: r.modelVersion,
        id: p.msg.id,
        outputs: [p.raw ? output : { ...output, contents: { fp32_contents: Array.from(query) } }],
        raw_output_contents: p.raw ? [Buffer.from(query.buffer, query.byteOffset, query.byteLength)] : [],
      };
    },
  };
}
