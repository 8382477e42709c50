// The OIP binary tensor data extension on /v2/models/{name}/infer against the real server
// process: binary inputs give exactly the JSON path's query embeddings, binary outputs decode to
// exactly the JSON output's values, JSON and binary inputs mix, and each malformed request is
// answered with the right 4xx naming the field while the process keeps serving.
import { beforeAll, describe, expect, it } from 'vitest';
import { generateFeatures } from '../../modelkit/catalogue.js';
import {
  INFERENCE_HEADER_LENGTH,
  decodeBinaryInferResponse,
  encodeBinaryInferRequest,
} from '../../server/oip-binary.js';
import { serveDemo } from './fixture.js';
import type { ServerProcess, Staged } from './harness.js';

const BODY_LIMIT = 100_000;
const PATH = '/v2/models/oipb/infer';

const demo = serveDemo(
  'lightrank-oip-binary-',
  ['--model-name', 'oipb', '--max-infer-rows', '8', '--body-limit-bytes', String(BODY_LIMIT)],
  { loadEmbeddings: false },
);
let staged: Staged;
let server: ServerProcess;
beforeAll(() => void ({ staged, server } = demo));

const cfg = () => staged.bundle.config.query;
const features = (rows: number, seed: number) =>
  generateFeatures({ numDense: cfg().numDense, numCategorical: cfg().numCategorical }, rows, seed);

type Tensor = Record<string, unknown>;

function denseTensor(rows: number, dense: Float32Array, binary: boolean): Tensor {
  const t = { name: 'dense', datatype: 'FP32', shape: [rows, cfg().numDense] };
  return binary
    ? { ...t, parameters: { binary_data_size: dense.byteLength } }
    : { ...t, data: Array.from(dense) };
}

function categoricalTensor(rows: number, cat: BigInt64Array, binary: boolean): Tensor {
  const t = { name: 'categorical', datatype: 'INT64', shape: [rows, cfg().numCategorical] };
  return binary
    ? { ...t, parameters: { binary_data_size: cat.byteLength } }
    : { ...t, data: Array.from(cat, Number) };
}

interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
  binary: () => ReturnType<typeof decodeBinaryInferResponse>;
}

async function send(body: Uint8Array, headers: Record<string, string>, path = PATH): Promise<Reply> {
  const res = await fetch(server.url + path, { method: 'POST', headers, body });
  const buf = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    headers: res.headers,
    body: buf,
    json: () => JSON.parse(buf.toString('utf8')),
    // a binary-extension response: its JSON header and output tensors
    binary: () => decodeBinaryInferResponse(buf, Number(res.headers.get(INFERENCE_HEADER_LENGTH))),
  };
}

/** A binary-extension request: the JSON header, then `tensors`' bytes in order. */
function postBinary(header: unknown, tensors: ArrayBufferView[], extra: Record<string, string> = {}) {
  const { body, headerLength } = encodeBinaryInferRequest(header, tensors);
  return send(body, {
    'content-type': 'application/octet-stream',
    [INFERENCE_HEADER_LENGTH]: String(headerLength),
    ...extra,
  });
}

const floats = (b: Buffer): number[] =>
  Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));

async function jsonQuery(rows: number, seed: number): Promise<number[]> {
  const { dense, categorical } = features(rows, seed);
  const res = await server.post(PATH, {
    inputs: [denseTensor(rows, dense, false), categoricalTensor(rows, categorical, false)],
  });
  expect(res.status).toBe(200);
  return res.body.outputs[0].data as number[];
}

describe('OIP binary tensor extension', () => {
  it('announces the extension in the server metadata', async () => {
    expect((await server.get('/v2')).body.extensions).toContain('binary_tensor_data');
  });

  it('binary inputs give exactly the JSON path’s query embeddings (JSON output)', async () => {
    const rows = 3;
    const { dense, categorical } = features(rows, 5);
    const want = await jsonQuery(rows, 5);
    const res = await postBinary(
      {
        id: 'b-1',
        inputs: [denseTensor(rows, dense, true), categoricalTensor(rows, categorical, true)],
        outputs: [{ name: 'query' }],
      },
      [dense, categorical],
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.headers.get(INFERENCE_HEADER_LENGTH)).toBeNull();
    const body = res.json();
    expect(body).toMatchObject({ model_name: 'oipb', id: 'b-1' });
    expect(body.outputs[0].shape).toEqual([
      rows,
      staged.bundle.config.tasks.length,
      staged.bundle.config.dim,
    ]);
    expect(body.outputs[0].data).toEqual(want);
  });

  it('a binary output (per output or request-wide) decodes to exactly the JSON output’s values', async () => {
    const rows = 2;
    const { dense, categorical } = features(rows, 9);
    const want = await jsonQuery(rows, 9);
    const inputs = [denseTensor(rows, dense, true), categoricalTensor(rows, categorical, true)];
    for (const header of [
      { inputs, outputs: [{ name: 'query', parameters: { binary_data: true } }] },
      { inputs, parameters: { binary_data_output: true } },
    ]) {
      const res = await postBinary(header, [dense, categorical]);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/octet-stream');
      const { header: h, tensors } = res.binary();
      expect(h.outputs[0]).toMatchObject({
        name: 'query',
        datatype: 'FP32',
        parameters: { binary_data_size: want.length * 4 },
      });
      expect(h.outputs[0]!.data).toBeUndefined();
      expect(floats(tensors.get('query')!)).toEqual(want);
    }
  });

  it('a request-wide binary output can be overridden per output; a plain JSON request may ask binary output', async () => {
    const rows = 1;
    const { dense, categorical } = features(rows, 2);
    const want = await jsonQuery(rows, 2);
    const off = await postBinary(
      {
        inputs: [denseTensor(rows, dense, true), categoricalTensor(rows, categorical, true)],
        parameters: { binary_data_output: true },
        outputs: [{ name: 'query', parameters: { binary_data: false } }],
      },
      [dense, categorical],
    );
    expect(off.status).toBe(200);
    expect(off.json().outputs[0].data).toEqual(want);
    const plain = await send(
      Buffer.from(
        JSON.stringify({
          inputs: [denseTensor(rows, dense, false), categoricalTensor(rows, categorical, false)],
          outputs: [{ name: 'query', parameters: { binary_data: true } }],
        }),
      ),
      { 'content-type': 'application/json' },
    );
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toContain('application/octet-stream');
    const { tensors } = plain.binary();
    expect(floats(tensors.get('query')!)).toEqual(want);
  });

  it('mixes JSON and binary inputs (either one binary), with no content type or a JSON one', async () => {
    const rows = 2;
    const { dense, categorical } = features(rows, 13);
    const want = await jsonQuery(rows, 13);
    const denseBinary = await postBinary(
      { inputs: [denseTensor(rows, dense, true), categoricalTensor(rows, categorical, false)] },
      [dense],
    );
    expect(denseBinary.status).toBe(200);
    expect(denseBinary.json().outputs[0].data).toEqual(want);
    // categorical first and binary, dense JSON; sent as application/json (the header decides)
    const { body, headerLength } = encodeBinaryInferRequest(
      { inputs: [categoricalTensor(rows, categorical, true), denseTensor(rows, dense, false)] },
      [categorical],
    );
    const types: Record<string, string>[] = [{ 'content-type': 'application/json' }, {}];
    for (const type of types) {
      const res = await send(body, { ...type, [INFERENCE_HEADER_LENGTH]: String(headerLength) });
      expect(res.status).toBe(200);
      expect(res.json().outputs[0].data).toEqual(want);
    }
  });

  it('serves the versioned route too', async () => {
    const { dense, categorical } = features(1, 4);
    const { body, headerLength } = encodeBinaryInferRequest(
      { inputs: [denseTensor(1, dense, true), categoricalTensor(1, categorical, true)] },
      [dense, categorical],
    );
    const res = await send(
      body,
      { [INFERENCE_HEADER_LENGTH]: String(headerLength) },
      `/v2/models/oipb/versions/${staged.modelVersion}/infer`,
    );
    expect(res.status).toBe(200);
    expect(res.json().outputs[0].data).toEqual(await jsonQuery(1, 4));
  });
});

describe('malformed binary requests: the right 4xx naming the field, the process unharmed', () => {
  const rows = 2;
  const good = () => {
    const { dense, categorical } = features(rows, 17);
    return {
      dense,
      categorical,
      header: { inputs: [denseTensor(rows, dense, true), categoricalTensor(rows, categorical, true)] } as {
        inputs: Tensor[];
        parameters?: Tensor;
        outputs?: Tensor[];
      },
    };
  };
  const withLength = (body: Uint8Array, length: string | number) =>
    send(body, { 'content-type': 'application/octet-stream', [INFERENCE_HEADER_LENGTH]: String(length) });
  const encoded = () => {
    const g = good();
    return encodeBinaryInferRequest(g.header, [g.dense, g.categorical]);
  };
  const mutated = (mutate: (g: ReturnType<typeof good>) => ArrayBufferView[]) => () => {
    const g = good();
    const tensors = mutate(g);
    return postBinary(g.header, tensors);
  };
  const sizeField = (i: number) => `inputs[${i}].parameters.binary_data_size`;
  const H = 'Inference-Header-Content-Length';

  const cases: [string, () => Promise<Reply>, number, string, string | undefined, RegExp?][] = [
    ['header length not a number', () => withLength(encoded().body, 'ten'), 400, 'INVALID_ARGUMENT', H],
    ['header length zero', () => withLength(encoded().body, 0), 400, 'INVALID_ARGUMENT', H],
    [
      'header length beyond the body',
      () => withLength(encoded().body, encoded().body.length + 1),
      400,
      'INVALID_ARGUMENT',
      H,
      /only \d+/,
    ],
    [
      'header is not JSON (length cuts it short)',
      () => withLength(encoded().body, encoded().headerLength - 1),
      400,
      'MALFORMED_JSON',
      H,
    ],
    [
      'size differs from shape × datatype',
      mutated((g) => {
        g.header.inputs[0]!.parameters = { binary_data_size: g.dense.byteLength - 4 };
        return [g.dense.subarray(1), g.categorical];
      }),
      400,
      'INVALID_ARGUMENT',
      sizeField(0),
      /expected \d+ bytes, got \d+/,
    ],
    [
      'binary data shorter than declared',
      mutated((g) => [g.dense, g.categorical.subarray(1)]),
      400,
      'INVALID_ARGUMENT',
      sizeField(1),
      /only \d+/,
    ],
    [
      'bytes left after the last input',
      mutated((g) => [g.dense, g.categorical, new Uint8Array(3)]),
      400,
      'INVALID_ARGUMENT',
      'body',
      /3 bytes/,
    ],
    [
      'both data and binary_data_size',
      mutated((g) => {
        g.header.inputs[0]!.data = Array.from(g.dense);
        return [g.dense, g.categorical];
      }),
      400,
      'INVALID_ARGUMENT',
      'inputs[0]',
    ],
    [
      'neither data nor binary_data_size',
      mutated((g) => {
        delete g.header.inputs[0]!.parameters;
        return [g.categorical];
      }),
      400,
      'INVALID_ARGUMENT',
      'inputs[0].data',
    ],
    [
      'binary_data_size not an integer',
      mutated((g) => {
        g.header.inputs[0]!.parameters = { binary_data_size: '48' };
        return [g.dense, g.categorical];
      }),
      400,
      'INVALID_ARGUMENT',
      sizeField(0),
    ],
    [
      'BYTES input',
      mutated((g) => {
        g.header.inputs[0]!.datatype = 'BYTES';
        return [g.dense, g.categorical];
      }),
      400,
      'INVALID_ARGUMENT',
      'inputs[0].datatype',
      /BYTES/,
    ],
    [
      'datatype the model does not take (size consistent)',
      mutated((g) => {
        g.header.inputs[0]!.datatype = 'INT32';
        return [g.dense, g.categorical];
      }),
      400,
      'INVALID_ARGUMENT',
      'inputs[0].datatype',
      /FP32/,
    ],
    [
      'NaN in binary FP32 data',
      mutated((g) => {
        g.dense[3] = NaN;
        return [g.dense, g.categorical];
      }),
      400,
      'INVALID_ARGUMENT',
      'inputs[0]',
      /element 3/,
    ],
    [
      'binary_data not a boolean',
      mutated((g) => {
        g.header.outputs = [{ name: 'query', parameters: { binary_data: 'yes' } }];
        return [g.dense, g.categorical];
      }),
      400,
      'INVALID_ARGUMENT',
      'outputs[0].parameters.binary_data',
    ],
    [
      'binary_data_output not a boolean',
      mutated((g) => {
        g.header.parameters = { binary_data_output: 1 };
        return [g.dense, g.categorical];
      }),
      400,
      'INVALID_ARGUMENT',
      'parameters.binary_data_output',
    ],
    [
      'body over the size limit',
      () => withLength(Buffer.concat([encoded().body, Buffer.alloc(BODY_LIMIT)]), encoded().headerLength),
      413,
      'PAYLOAD_TOO_LARGE',
      undefined,
    ],
    [
      'octet-stream without the header',
      () => send(encoded().body, { 'content-type': 'application/octet-stream' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      undefined,
      /Inference-Header-Content-Length/,
    ],
  ];

  it.each(cases)('%s', async (_name, request, status, code, field, message) => {
    const res = await request();
    expect(res.status).toBe(status);
    const body = res.json();
    expect(body.code).toBe(code);
    expect(body.field).toBe(field);
    if (message) expect(body.error).toMatch(message);
  });

  it('names the input and both sizes when a size is wrong', async () => {
    const g = good();
    g.header.inputs[1]!.parameters = { binary_data_size: g.categorical.byteLength + 8 };
    const res = await postBinary(g.header, [g.dense, g.categorical, new Uint8Array(8)]);
    expect(res.status).toBe(400);
    const expected = rows * cfg().numCategorical * 8;
    expect(res.json().error).toContain(`"categorical"`);
    expect(res.json().error).toContain(`expected ${expected} bytes, got ${expected + 8}`);
  });

  it('an unknown model is 404 in binary too', async () => {
    const { body, headerLength } = encoded();
    const res = await send(
      body,
      { [INFERENCE_HEADER_LENGTH]: String(headerLength) },
      '/v2/models/nope/infer',
    );
    expect(res.status).toBe(404);
    expect(res.json().code).toBe('MODEL_NOT_FOUND');
  });

  it('the process is unharmed: ready and answering binary requests', async () => {
    expect((await server.get('/v2/health/ready')).status).toBe(200);
    const g = good();
    const res = await postBinary(g.header, [g.dense, g.categorical]);
    expect(res.status).toBe(200);
    expect(res.json().outputs[0].data).toEqual(await jsonQuery(rows, 17));
    expect(server.proc.exitCode).toBeNull();
  });
});
