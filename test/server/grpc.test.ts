// gRPC against the real server process, from TypeScript (@grpc/grpc-js with the repo's protos):
// the OIP v2 service inference.GRPCInferenceService (health, metadata, ModelInfer with typed
// contents and with raw_input_contents) answering exactly what REST answers, the ranking call
// lightrank.v1.Ranking/Rank equal to the REST binary encoding, and errors as gRPC status codes
// with the catalogue code in the trailers. (The Python OIP client's test: grpc-python.test.ts.)
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFeatures } from '../../modelkit/catalogue.js';
import { RANK_BINARY_TYPE, decodeRankBinaryResponse, encodeRankBinaryRequest } from '../../server/binary.js';
import { loadProtos } from '../../server/grpc/server.js';
import type { Snapshot } from '../../snapshot/index.js';
import { serveDemo } from './fixture.js';
import type { ServerProcess, Staged } from './harness.js';

const MODEL = 'grpcdemo';
const demo = serveDemo('lightrank-grpc-', [
  '--model-name',
  MODEL,
  '--max-infer-rows',
  '8',
  '--max-candidates',
  '500',
]);
let staged: Staged;
let server: ServerProcess;
let snapshot: Snapshot;

/* eslint-disable @typescript-eslint/no-explicit-any */
type Client = grpc.Client &
  Record<string, (req: unknown, cb: (err: grpc.ServiceError | null, res: any) => void) => void>;
let oip: Client;
let ranking: Client;

beforeAll(() => {
  ({ staged, server, snapshot } = demo);
  expect(server.grpcPort).toEqual(expect.any(Number));
  const pkg = loadProtos() as any;
  const address = `127.0.0.1:${server.grpcPort}`;
  oip = new pkg.inference.GRPCInferenceService(address, grpc.credentials.createInsecure());
  ranking = new pkg.lightrank.v1.Ranking(address, grpc.credentials.createInsecure());
});
afterAll(() => {
  oip?.close();
  ranking?.close();
});

const call = (client: Client, method: string, req: unknown): Promise<any> =>
  new Promise((resolve, reject) => client[method]!(req, (err, res) => (err ? reject(err) : resolve(res))));

/** The call's error: gRPC status, details, and the catalogue code and field from the trailers. */
async function refused(client: Client, method: string, req: unknown) {
  const err = (await call(client, method, req).then(
    () => undefined,
    (e: grpc.ServiceError) => e,
  )) as grpc.ServiceError | undefined;
  expect(err, `${method} should fail`).toBeDefined();
  return {
    code: err!.code,
    details: err!.details,
    catalogue: err!.metadata.get('lightrank-code')[0],
    field: err!.metadata.get('lightrank-field')[0],
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const cfg = () => staged.bundle.config.query;
const features = (rows: number, seed: number) =>
  generateFeatures({ numDense: cfg().numDense, numCategorical: cfg().numCategorical }, rows, seed);
const floats = (b: Buffer) =>
  Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));

/** The REST answer for the same rows: query FP32 [rows, tasks, dim]. */
async function restQuery(dense: Float32Array, categorical: BigInt64Array, rows: number): Promise<number[]> {
  // the JSON numbers are float32 values written as doubles: compared as float32
  const res2 = await server.post(`/v2/models/${MODEL}/infer`, {
    inputs: [
      { name: 'dense', datatype: 'FP32', shape: [rows, cfg().numDense], data: Array.from(dense) },
      {
        name: 'categorical',
        datatype: 'INT64',
        shape: [rows, cfg().numCategorical],
        data: Array.from(categorical, String),
      },
    ],
  });
  expect(res2.status).toBe(200);
  return Array.from(Float32Array.from(res2.body.outputs[0].data as number[]));
}

describe('inference.GRPCInferenceService', () => {
  it('answers liveness, readiness and metadata like REST', async () => {
    expect(await call(oip, 'ServerLive', {})).toEqual({ live: true });
    expect(await call(oip, 'ServerReady', {})).toEqual({ ready: true });
    expect(await call(oip, 'ModelReady', { name: MODEL })).toEqual({ ready: true });
    expect(await call(oip, 'ModelReady', { name: MODEL, version: 'm1' })).toEqual({ ready: true });
    const meta = await call(oip, 'ServerMetadata', {});
    expect(meta).toEqual({
      name: 'lightrank',
      version: expect.any(String),
      extensions: ['binary_tensor_data'],
    });
    const model = await call(oip, 'ModelMetadata', { name: MODEL });
    const cfgAll = staged.bundle.config;
    expect(model).toEqual({
      name: MODEL,
      versions: ['m1'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'dense', datatype: 'FP32', shape: ['-1', String(cfgAll.query.numDense)] },
        { name: 'categorical', datatype: 'INT64', shape: ['-1', String(cfgAll.query.numCategorical)] },
      ],
      outputs: [
        { name: 'query', datatype: 'FP32', shape: ['-1', String(cfgAll.tasks.length), String(cfgAll.dim)] },
      ],
    });
  });

  it('ModelInfer with typed contents answers in fp32_contents, equal to REST', async () => {
    const { dense, categorical } = features(3, 31);
    const res = await call(oip, 'ModelInfer', {
      model_name: MODEL,
      id: 'g-1',
      inputs: [
        {
          name: 'dense',
          datatype: 'FP32',
          shape: [3, cfg().numDense],
          contents: { fp32_contents: Array.from(dense) },
        },
        {
          name: 'categorical',
          datatype: 'INT64',
          shape: [3, cfg().numCategorical],
          contents: { int64_contents: Array.from(categorical, String) },
        },
      ],
    });
    expect(res).toMatchObject({ model_name: MODEL, model_version: 'm1', id: 'g-1', raw_output_contents: [] });
    const out = res.outputs[0];
    expect(out).toMatchObject({
      name: 'query',
      datatype: 'FP32',
      shape: ['3', String(staged.bundle.config.tasks.length), String(staged.bundle.config.dim)],
    });
    expect(Array.from(Float32Array.from(out.contents.fp32_contents))).toEqual(
      await restQuery(dense, categorical, 3),
    );
  });

  it('ModelInfer with raw_input_contents answers in raw_output_contents, equal to REST', async () => {
    const { dense, categorical } = features(2, 32);
    const res = await call(oip, 'ModelInfer', {
      model_name: MODEL,
      model_version: 'm1',
      inputs: [
        { name: 'dense', datatype: 'FP32', shape: [2, cfg().numDense] },
        { name: 'categorical', datatype: 'INT64', shape: [2, cfg().numCategorical] },
      ],
      outputs: [{ name: 'query' }],
      raw_input_contents: [Buffer.from(dense.buffer), Buffer.from(categorical.buffer)],
    });
    expect(res.outputs[0].contents).toBeNull();
    expect(res.raw_output_contents).toHaveLength(1);
    expect(floats(res.raw_output_contents[0])).toEqual(await restQuery(dense, categorical, 2));
  });

  it('refuses bad requests with gRPC status codes, the catalogue code and field in the trailers', async () => {
    const { dense, categorical } = features(1, 33);
    const good = () => ({
      model_name: MODEL,
      inputs: [
        {
          name: 'dense',
          datatype: 'FP32',
          shape: [1, cfg().numDense],
          contents: { fp32_contents: Array.from(dense) },
        },
        {
          name: 'categorical',
          datatype: 'INT64',
          shape: [1, cfg().numCategorical],
          contents: { int64_contents: Array.from(categorical, String) },
        },
      ],
    });
    const INVALID = grpc.status.INVALID_ARGUMENT;
    type Req = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- mutated freely
    const cases: [string, (r: Req) => void, grpc.status, string, string | undefined][] = [
      ['unknown model', (r) => (r.model_name = 'nope'), grpc.status.NOT_FOUND, 'MODEL_NOT_FOUND', undefined],
      ['other version', (r) => (r.model_version = 'm0'), grpc.status.NOT_FOUND, 'MODEL_NOT_FOUND', undefined],
      ['wrong shape', (r) => (r.inputs[0].shape = [1, 3]), INVALID, 'INVALID_ARGUMENT', 'inputs[0].shape'],
      [
        'too many rows',
        (r) => (r.inputs[0].shape = [9, cfg().numDense]),
        INVALID,
        'INVALID_ARGUMENT',
        'inputs[0].shape[0]',
      ],
      [
        'wrong contents field',
        (r) => (r.inputs[0].contents = { fp64_contents: Array.from(dense) }),
        INVALID,
        'INVALID_ARGUMENT',
        'inputs[0].contents',
      ],
      [
        'too few elements',
        (r) => r.inputs[0].contents.fp32_contents.pop(),
        INVALID,
        'INVALID_ARGUMENT',
        'inputs[0].data',
      ],
      [
        'raw and typed mixed',
        (r) => (r.raw_input_contents = [Buffer.alloc(64), Buffer.alloc(32)]),
        INVALID,
        'INVALID_ARGUMENT',
        'inputs[0].contents',
      ],
      [
        'raw entries ≠ inputs',
        (r) => {
          for (const t of r.inputs) delete t.contents;
          r.raw_input_contents = [Buffer.alloc(64)];
        },
        INVALID,
        'INVALID_ARGUMENT',
        'raw_input_contents',
      ],
      [
        'raw size ≠ shape',
        (r) => {
          for (const t of r.inputs) delete t.contents;
          r.raw_input_contents = [Buffer.alloc(60), Buffer.alloc(32)];
        },
        INVALID,
        'INVALID_ARGUMENT',
        'inputs[0]',
      ],
      [
        'a feature over the limit',
        (r) => (r.inputs[0].contents.fp32_contents[2] = 1e30),
        INVALID,
        'INVALID_ARGUMENT',
        'inputs[0]',
      ],
      [
        'NaN feature',
        (r) => (r.inputs[0].contents.fp32_contents[2] = NaN),
        INVALID,
        'INVALID_ARGUMENT',
        'inputs[0].data[2]',
      ],
      [
        'sequence id',
        (r) => (r.parameters = { sequence_id: { int64_param: 7 } }),
        INVALID,
        'INVALID_ARGUMENT',
        'parameters.sequence_id',
      ],
      [
        'unknown output',
        (r) => (r.outputs = [{ name: 'item' }]),
        INVALID,
        'INVALID_ARGUMENT',
        'outputs[0].name',
      ],
    ];
    for (const [name, mutate, code, catalogue, field] of cases) {
      const req = good();
      mutate(req);
      const e = await refused(oip, 'ModelInfer', req);
      expect({ name, code: e.code, catalogue: e.catalogue, field: e.field }).toEqual({
        name,
        code,
        catalogue,
        field,
      });
    }
    const notModel = await refused(oip, 'ModelReady', { name: 'nope' });
    expect(notModel.code).toBe(grpc.status.NOT_FOUND);
    const metaOther = await refused(oip, 'ModelMetadata', { name: MODEL, version: 'm9' });
    expect(metaOther.code).toBe(grpc.status.NOT_FOUND);
    // details quoting a huge client value are clipped to fit an HTTP/2 header (else the call never ends)
    const huge = await refused(oip, 'ModelMetadata', { name: 'n'.repeat(100_000) });
    expect(huge.code).toBe(grpc.status.NOT_FOUND);
    expect(huge.details.length).toBeLessThan(2200);
    expect(huge.details).toContain('more characters');
  });

  it('bytes that are not the message are INVALID_ARGUMENT, not INTERNAL', async () => {
    const garbage = await new Promise<grpc.ServiceError>((resolve) =>
      oip.makeUnaryRequest(
        '/inference.GRPCInferenceService/ModelInfer',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        (err) => resolve(err!),
      ),
    );
    expect(garbage.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(garbage.details).toContain('not a valid ModelInfer request message');
  });
});

describe('lightrank.v1.Ranking', () => {
  const rankReq = (seed: number, extra: Record<string, unknown> = {}) => {
    const { dense, categorical } = features(1, seed);
    const ids = Array.from({ length: 40 }, (_, i) => snapshot.ids[(i * 13 + seed) % snapshot.rows]!);
    ids.splice(7, 0, 12345n); // unknown
    return {
      dense,
      categorical,
      ids,
      req: {
        model_name: MODEL,
        dense: Array.from(dense),
        categorical: Array.from(categorical, String),
        candidates: ids.map(String),
        ...extra,
      },
    };
  };

  it('scores like the REST binary encoding: aligned, NaN for unknown ids, those listed', async () => {
    const { dense, categorical, ids, req } = rankReq(41);
    const res = await call(ranking, 'Rank', req);
    const rest = await fetch(`${server.url}/v1/models/${MODEL}/rank`, {
      method: 'POST',
      headers: { 'content-type': RANK_BINARY_TYPE },
      body: encodeRankBinaryRequest(dense, categorical, BigUint64Array.from(ids)),
    });
    const want = decodeRankBinaryResponse(Buffer.from(await rest.arrayBuffer()));
    expect(res).toMatchObject({
      model: MODEL,
      model_version: 'm1',
      tasks: want.tasks,
      unknown_ids: ['12345'],
      unknown_positions: [7],
      top_k: [],
    });
    expect(res.scores.map((s: { task: string }) => s.task)).toEqual(want.tasks);
    want.scores.forEach((column, t) =>
      expect(Float32Array.from(res.scores[t].scores)).toEqual(Float32Array.from(column)),
    );
  });

  it('answers the top K of chosen tasks like REST JSON', async () => {
    const task = staged.bundle.config.tasks[1]!;
    const { req } = rankReq(42, { top_k: 5, tasks: [task] });
    const res = await call(ranking, 'Rank', req);
    const rest = await server.post(`/v1/models/${MODEL}/rank`, {
      query: { dense: req.dense, categorical: req.categorical },
      candidates: req.candidates,
      topK: 5,
      tasks: [task],
    });
    expect(res.tasks).toEqual([task]);
    expect(res.scores).toEqual([]);
    expect(res.top_k).toHaveLength(1);
    expect(res.top_k[0].ids).toEqual(rest.body.topK[task].map((e: { id: string }) => e.id));
    res.top_k[0].scores.forEach((s: number, i: number) =>
      expect(Math.abs(s - rest.body.topK[task][i].score)).toBeLessThan(1e-8),
    );
  });

  it('refuses bad requests naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ dense: [1, 2] }, 'dense'],
      [{ candidates: [] }, 'candidates'],
      [{ top_k: 501 }, 'top_k'],
      [{ tasks: ['nope'] }, 'tasks[0]'],
    ];
    for (const [extra, field] of cases) {
      const e = await refused(ranking, 'Rank', rankReq(43, extra).req).catch((err: Error) => {
        throw new Error(`${JSON.stringify(extra)}: ${err.message}`);
      });
      expect({ field: e.field, code: e.code }).toEqual({ field, code: grpc.status.INVALID_ARGUMENT });
    }
    const { req } = rankReq(44);
    req.dense[0] = 1e20;
    const big = await refused(ranking, 'Rank', req);
    expect(big.field).toBe('dense[0]');
    expect(big.details).toContain('--max-dense-abs');
  });
});

describe('metrics', () => {
  it('counts gRPC calls beside REST ones', async () => {
    const text = (await server.get('/metrics')).text;
    expect(text).toMatch(
      /lightrank_server_requests_total\{[^}]*endpoint="grpc_model_infer",code="200"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(
      /lightrank_server_requests_total\{[^}]*endpoint="grpc_rank",code="400"[^}]*\} [1-9]/,
    );
  });
});
