// OIP v2 REST infer (POST /v2/models/{name}[/versions/{v}]/infer): the JSON body, or the binary
// tensor data extension (oip-binary.ts: a JSON header of Inference-Header-Content-Length bytes,
// then raw tensors). Both bind through oip-tensors.ts and answer the same way: output `query`
// FP32 [batch, tasks, dim] as JSON `data`, or as raw bytes after a JSON header when the request
// asks for binary output (either encoding may ask, as with Triton).
//
// API:
//   oipJsonCodec(limits)   → Codec<unknown (the parsed JSON body), OipRestRequest, InferResponse | BinaryInferResponse>
//   oipBinaryCodec(limits) → Codec<{ body: Buffer; headerLength: string }, OipRestRequest, ...>
//   interface InferResponse, OipTensor (the JSON response)
import type { Codec } from '../dataplane.js';
import {
  type BinaryInferResponse,
  binaryOutputRequested,
  encodeBinaryInferResponse,
  sliceBinaryInputs,
  splitBinaryBody,
} from '../oip-binary.js';
import { inferRequestSchema, type InferRequest } from '../schemas.js';
import { QUERY, bindOipInputs, checkInferParameters, type OipInput } from './oip-tensors.js';
import { parseOrThrow } from './parse.js';

export interface OipTensor {
  name: string;
  datatype: string;
  shape: number[];
  /** absent when the tensor's bytes follow the JSON header (binary extension) */
  data?: number[];
  parameters?: { binary_data_size: number };
}

export interface InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: OipTensor[];
}

export interface OipRestRequest {
  req: InferRequest;
  /** per input: its raw bytes (binary extension), or undefined when it carries JSON `data` */
  binary: (Buffer | undefined)[];
  binaryOutput: boolean;
}

type OipCodec<W> = Codec<W, OipRestRequest, InferResponse | BinaryInferResponse>;

interface InferLimits {
  maxInferRows: number;
}

const schemaLimits = (l: InferLimits) => ({
  maxInferRows: l.maxInferRows,
  maxElements: l.maxInferRows * 4096,
});

function finishParse(req: InferRequest, binary: (Buffer | undefined)[]): OipRestRequest {
  return { req, binary, binaryOutput: binaryOutputRequested(req, QUERY) };
}

const bind: OipCodec<unknown>['bind'] = ({ req, binary }, model) => {
  checkInferParameters(req.parameters, model.name);
  const inputs: OipInput[] = req.inputs.map((t, i) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    data: t.data,
    bytes: binary[i],
  }));
  return bindOipInputs(
    inputs,
    req.outputs?.map((o) => o.name),
    model,
  );
};

const encode: OipCodec<unknown>['encode'] = ({ req, binaryOutput }, r) => {
  const query = r.query!;
  const output: OipTensor = { name: QUERY, datatype: 'FP32', shape: [r.rows, r.tasks.length, r.dim] };
  if (binaryOutput) output.parameters = { binary_data_size: query.byteLength };
  else output.data = Array.from(query);
  const res: InferResponse = {
    model_name: r.model,
    model_version: r.modelVersion,
    ...(req.id !== undefined ? { id: req.id } : {}),
    outputs: [output],
  };
  return binaryOutput ? encodeBinaryInferResponse(res, [query]) : res;
};

export function oipJsonCodec(limits: InferLimits): OipCodec<unknown> {
  const schema = inferRequestSchema(schemaLimits(limits));
  return { parse: (body) => finishParse(parseOrThrow<InferRequest>(schema, body), []), bind, encode };
}

export function oipBinaryCodec(limits: InferLimits): OipCodec<{ body: unknown; headerLength: string }> {
  const schema = inferRequestSchema(schemaLimits(limits), { binaryData: true });
  return {
    parse({ body, headerLength }) {
      const { header, tail } = splitBinaryBody(body, headerLength);
      const req = parseOrThrow<InferRequest>(schema, header);
      return finishParse(req, sliceBinaryInputs(req.inputs, tail));
    },
    bind,
    encode,
  };
}
