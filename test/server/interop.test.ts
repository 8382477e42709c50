// What other OIP clients send, as raw HTTP requests (node:http, every header written here and no
// other: fetch would add a Content-Type and an Accept-Encoding of its own) against the real
// server process: JSON infer with no Content-Type (and the binary extension with none),
// Content-Encoding gzip/deflate on requests (bounded, refused when the body is not what the
// header says), Accept-Encoding on responses, UTF-16 JSON, a `__proto__` key, a path that is not
// valid percent-encoding, and Triton's sequence parameters on a model that is not a sequence model.
import { deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateFeatures } from '../../modelkit/catalogue.js';
import {
  INFERENCE_HEADER_LENGTH,
  decodeBinaryInferResponse,
  encodeBinaryInferRequest,
} from '../../server/oip-binary.js';
import { serveDemo } from './fixture.js';
import type { ServerProcess, Staged } from './harness.js';
import { rawRequest } from './raw-http.js';

const BODY_LIMIT = 100_000;
const INFER = '/v2/models/interop/infer';
const RANK = '/v1/models/interop/rank';

const demo = serveDemo('lightrank-interop-', [
  '--model-name',
  'interop',
  '--body-limit-bytes',
  String(BODY_LIMIT),
  '--max-infer-rows',
  '8',
]);
let staged: Staged;
let server: ServerProcess;
beforeAll(() => void ({ staged, server } = demo));

/** One request with exactly these headers (node adds Host and Connection only). */
const raw = (method: string, path: string, headers: Record<string, string>, body?: Buffer | string) =>
  rawRequest(server.port, method, path, headers, body);

/** A POST with Content-Length and the given headers only (no Content-Type unless given). */
const post = (path: string, body: Buffer | string, headers: Record<string, string> = {}) =>
  raw(
    'POST',
    path,
    { 'user-agent': 'interop-test', 'content-length': String(Buffer.byteLength(body)), ...headers },
    body,
  );

const cfg = () => staged.bundle.config.query;
function inferBody(rows = 2, seed = 5) {
  const { dense, categorical } = generateFeatures(
    { numDense: cfg().numDense, numCategorical: cfg().numCategorical },
    rows,
    seed,
  );
  return {
    dense,
    categorical,
    json: {
      inputs: [
        { name: 'dense', datatype: 'FP32', shape: [rows, cfg().numDense], data: Array.from(dense) },
        {
          name: 'categorical',
          datatype: 'INT64',
          shape: [rows, cfg().numCategorical],
          data: Array.from(categorical, Number),
        },
      ],
    } as Record<string, unknown>,
  };
}
function rankBody() {
  return {
    query: { dense: Array(cfg().numDense).fill(0.25), categorical: Array(cfg().numCategorical).fill(7) },
    candidates: ['1', '2', '3'],
  };
}

const JSON_CT = { 'content-type': 'application/json' };
let reference: number[]; // the query output for inferBody() sent the ordinary way

beforeAll(async () => {
  const res = await post(INFER, JSON.stringify(inferBody().json), JSON_CT);
  expect(res.status).toBe(200);
  reference = res.json().outputs[0].data;
});

describe('no Content-Type', () => {
  it('a JSON infer request with only Host, User-Agent and Content-Length is read as JSON', async () => {
    const res = await post(INFER, JSON.stringify(inferBody().json));
    expect(res.status).toBe(200);
    expect(res.json().outputs[0].data).toEqual(reference);
  });

  it('with Inference-Header-Content-Length it is the binary extension', async () => {
    const b = inferBody();
    const header = {
      inputs: [
        {
          name: 'dense',
          datatype: 'FP32',
          shape: [2, cfg().numDense],
          parameters: { binary_data_size: b.dense.byteLength },
        },
        {
          name: 'categorical',
          datatype: 'INT64',
          shape: [2, cfg().numCategorical],
          parameters: { binary_data_size: b.categorical.byteLength },
        },
      ],
    };
    const { body, headerLength } = encodeBinaryInferRequest(header, [b.dense, b.categorical]);
    const res = await post(INFER, body, { [INFERENCE_HEADER_LENGTH]: String(headerLength) });
    expect(res.status).toBe(200);
    expect(res.json().outputs[0].data).toEqual(reference);
  });

  it('the ranking route reads it as JSON too; a body-less POST is not parsed', async () => {
    const res = await post(RANK, JSON.stringify(rankBody()));
    expect(res.status).toBe(200);
    expect(res.json().unknownIds).toEqual(['1', '2', '3']);
    const empty = await raw('POST', INFER, { 'content-length': '0' });
    expect(empty.status).toBe(400);
    expect(empty.json()).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('Content-Encoding on requests', () => {
  it('gzip and deflate bodies give the same answers as plain ones', async () => {
    const text = JSON.stringify(inferBody().json);
    for (const [coding, bytes] of [
      ['gzip', gzipSync(text)],
      ['deflate', deflateSync(text)],
      ['GZIP, identity', gzipSync(text)],
    ] as const) {
      const res = await post(INFER, bytes, { ...JSON_CT, 'content-encoding': coding });
      expect(res.status, coding).toBe(200);
      expect(res.json().outputs[0].data).toEqual(reference);
    }
    const rank = await post(RANK, gzipSync(JSON.stringify(rankBody())), { 'content-encoding': 'gzip' });
    expect(rank.status).toBe(200);
    expect(rank.json().unknownIds).toEqual(['1', '2', '3']);
  });

  it('a body labelled gzip or deflate that is not is a 400 naming the header, not a JSON error', async () => {
    const text = JSON.stringify(inferBody().json);
    for (const coding of ['gzip', 'deflate']) {
      const res = await post(INFER, text, { ...JSON_CT, 'content-encoding': coding });
      expect(res.status).toBe(400);
      expect(res.json()).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'Content-Encoding' });
      expect(res.json().error).toContain(`not valid ${coding} data`);
    }
    const truncated = gzipSync(text).subarray(0, 40);
    const res = await post(INFER, truncated, { ...JSON_CT, 'content-encoding': 'gzip' });
    expect(res.status).toBe(400);
    expect(res.json().field).toBe('Content-Encoding');
  });

  it('the decompressed size is bounded by the body limit (413), however small the compressed body', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * BODY_LIMIT, 0x20)); // 5 MB of spaces in ~5 KB
    expect(bomb.length).toBeLessThan(BODY_LIMIT);
    const res = await post(INFER, bomb, { ...JSON_CT, 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(res.json().error).toContain(`${BODY_LIMIT}-byte`);
    // just under the limit is read
    const ok = JSON.stringify(inferBody().json);
    const padded = ok.slice(0, -1) + ' '.repeat(BODY_LIMIT - ok.length - 1) + '}';
    expect(Buffer.byteLength(padded)).toBe(BODY_LIMIT - 1);
    const under = await post(INFER, gzipSync(padded), { ...JSON_CT, 'content-encoding': 'gzip' });
    expect(under.status).toBe(200);
  });

  it('an unknown or stacked coding is a 415 naming the header', async () => {
    for (const coding of ['br', 'gzip, gzip', 'compress']) {
      const res = await post(INFER, '{}', { ...JSON_CT, 'content-encoding': coding });
      expect(res.status, coding).toBe(415);
      expect(res.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', field: 'Content-Encoding' });
    }
  });
});

describe('Accept-Encoding on responses', () => {
  it('compresses JSON responses for gzip or deflate (q-values honoured), not otherwise', async () => {
    const text = JSON.stringify(inferBody().json);
    const cases: [string | undefined, string | undefined][] = [
      ['gzip', 'gzip'],
      ['deflate', 'deflate'],
      ['deflate;q=1, gzip;q=0.5', 'deflate'],
      ['gzip;q=0, deflate;q=0', undefined],
      ['br', undefined],
      ['*', 'gzip'],
      [undefined, undefined],
    ];
    for (const [accept, want] of cases) {
      const res = await post(INFER, text, { ...JSON_CT, ...(accept ? { 'accept-encoding': accept } : {}) });
      expect(res.status).toBe(200);
      expect(res.headers['content-encoding'], String(accept)).toBe(want);
      const plain =
        want === 'gzip' ? gunzipSync(res.body) : want === 'deflate' ? inflateSync(res.body) : res.body;
      expect(JSON.parse(plain.toString()).outputs[0].data).toEqual(reference);
    }
  });

  it('a binary response is compressed whole; its header length counts the uncompressed JSON', async () => {
    const body = { ...inferBody().json, parameters: { binary_data_output: true } };
    const res = await post(INFER, JSON.stringify(body), { ...JSON_CT, 'accept-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    const { tensors } = decodeBinaryInferResponse(
      gunzipSync(res.body),
      Number(res.headers[INFERENCE_HEADER_LENGTH]),
    );
    const q = tensors.get('query')!;
    expect(Array.from(new Float32Array(q.buffer.slice(q.byteOffset, q.byteOffset + q.byteLength)))).toEqual(
      reference,
    );
  });

  it('errors and metadata are compressed too', async () => {
    const meta = await raw('GET', '/v2/models/interop', { 'accept-encoding': 'gzip' });
    expect(meta.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(meta.body).toString()).name).toBe('interop');
    const err = await raw('GET', '/v2/models/nope', { 'accept-encoding': 'gzip' });
    expect(err.status).toBe(404);
    expect(JSON.parse(gunzipSync(err.body).toString()).code).toBe('MODEL_NOT_FOUND');
  });
});

describe('charset', () => {
  it('UTF-16 JSON (by BOM, or named LE/BE) is decoded, not read as UTF-8', async () => {
    const text = JSON.stringify(inferBody().json);
    const le = Buffer.from(text, 'utf16le');
    const be = Buffer.from(le).swap16();
    for (const [charset, bytes] of [
      ['utf-16', Buffer.concat([Buffer.from([0xff, 0xfe]), le])],
      ['utf-16', Buffer.concat([Buffer.from([0xfe, 0xff]), be])],
      ['UTF-16LE', le],
      ['utf-16be', be],
      ['utf-8', Buffer.from(text)],
      ['"utf-8"', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])],
    ] as const) {
      const res = await post(INFER, bytes, { 'content-type': `application/json; charset=${charset}` });
      expect(res.status, charset).toBe(200);
      expect(res.json().outputs[0].data).toEqual(reference);
    }
  });

  it('UTF-8 bytes labelled UTF-16 are not JSON; other charsets are refused with 415', async () => {
    const text = JSON.stringify(inferBody().json);
    const mislabelled = await post(INFER, text, { 'content-type': 'application/json; charset=utf-16' });
    expect(mislabelled.status).toBe(400);
    expect(mislabelled.json().code).toBe('MALFORMED_JSON');
    for (const charset of ['iso-8859-1', 'utf-32', 'shift_jis']) {
      const res = await post(INFER, text, { 'content-type': `application/json; charset=${charset}` });
      expect(res.status, charset).toBe(415);
      expect(res.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', field: 'Content-Type' });
      expect(res.json().error).toContain(charset);
    }
  });
});

describe('small ones', () => {
  it('a __proto__ key is refused by name and place, in JSON bodies and binary headers', async () => {
    const rank = await post(
      RANK,
      '{"query":{"__proto__":{"x":1},"dense":[],"categorical":[]},"candidates":["1"]}',
      JSON_CT,
    );
    expect(rank.status).toBe(400);
    expect(rank.json()).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'query.__proto__' });
    expect(rank.json().error).toMatch(/"__proto__" key, which is refused/);
    const escaped = await post(INFER, '{"\\u005f_proto__":{}}', JSON_CT);
    expect(escaped.json()).toMatchObject({ code: 'INVALID_ARGUMENT', field: '__proto__' });
    const ctor = await post(INFER, '{"constructor":{"prototype":{"a":1}}}', JSON_CT);
    expect(ctor.json()).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'constructor' });
    const header = Buffer.from('{"__proto__":{},"inputs":[]}');
    const bin = await post(INFER, header, {
      'content-type': 'application/octet-stream',
      [INFERENCE_HEADER_LENGTH]: String(header.length),
    });
    expect(bin.status).toBe(400);
    expect(bin.json().field).toBe('__proto__');
  });

  it('a path that is not valid percent-encoding answers in the error format', async () => {
    for (const [method, path] of [
      ['GET', '/v2/models/%ZZ'],
      ['GET', '/v2/models/%ZZ/ready'],
      ['POST', '/v2/models/%E0%A4%A/infer'],
    ] as const) {
      const res = await raw(
        method,
        path,
        method === 'POST' ? { ...JSON_CT, 'content-length': '2' } : {},
        method === 'POST' ? '{}' : undefined,
      );
      expect(res.status, path).toBe(400);
      expect(res.json()).toEqual({
        error: expect.stringContaining('not a valid URL path'),
        code: 'INVALID_ARGUMENT',
        field: 'path',
      });
    }
    const long = await raw('GET', `/v2/models/${'m'.repeat(300)}`, {});
    expect(long.status).toBe(400);
    expect(long.json()).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'path' });
  });

  it("Triton's sequence parameters are refused for this non-sequence model; their zero values and priority pass", async () => {
    const send = (parameters: Record<string, unknown>) =>
      post(INFER, JSON.stringify({ ...inferBody().json, parameters }), JSON_CT);
    for (const [parameters, field] of [
      [{ sequence_id: 42 }, 'parameters.sequence_id'],
      [{ sequence_id: 'session-7' }, 'parameters.sequence_id'],
      [{ sequence_start: true }, 'parameters.sequence_start'],
      [{ sequence_end: true }, 'parameters.sequence_end'],
    ] as const) {
      const res = await send(parameters);
      expect(res.status, JSON.stringify(parameters)).toBe(400);
      expect(res.json()).toMatchObject({ code: 'INVALID_ARGUMENT', field });
      expect(res.json().error).toContain('not a sequence (stateful) model');
    }
    for (const [parameters, field] of [
      [{ sequence_id: { a: 1 } }, 'parameters.sequence_id'],
      [{ sequence_start: 1 }, 'parameters.sequence_start'],
      [{ priority: -1 }, 'parameters.priority'],
      [{ triton_enable_empty_final_response: true }, 'parameters.triton_enable_empty_final_response'],
    ] as const) {
      const res = await send(parameters);
      expect(res.status, JSON.stringify(parameters)).toBe(400);
      expect(res.json().field).toBe(field);
    }
    const zero = await send({
      sequence_id: 0,
      sequence_start: false,
      sequence_end: false,
      priority: 1,
      timeout: 1000,
      custom: 'x',
    });
    expect(zero.status).toBe(200);
    expect(zero.json().outputs[0].data).toEqual(reference);
  });
});
