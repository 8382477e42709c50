// The scoring server as a real process on the model kit's real ONNX model: golden scores against
// the model kit's plain-TS reference math (query tower) and a plain dot + sigmoid over the
// snapshot rows; OIP v2 conformance; 47 malformed requests each answered with the right 4xx
// while the process stays healthy; and CUDA requested on a machine without CUDA → CPU with one
// warning (this process is started with --execution-provider cuda).
import { beforeAll, describe, expect, it } from 'vitest';
import { generateFeatures } from '../../modelkit/catalogue.js';
import { modelConfig } from '../../modelkit/config.js';
import { runTowerReference } from '../../modelkit/reference.js';
import { generateTowerWeights } from '../../modelkit/weights.js';
import type { Snapshot } from '../../snapshot/index.js';
import { serveDemo } from './fixture.js';
import type { ServerProcess, Staged } from './harness.js';

const MAX_CANDIDATES = 3000;
const BODY_LIMIT = 200_000;

const demo = serveDemo('lightrank-api-', [
  '--model-name',
  'golden',
  '--execution-provider',
  'cuda',
  '--max-candidates',
  String(MAX_CANDIDATES),
  '--body-limit-bytes',
  String(BODY_LIMIT),
  '--max-infer-rows',
  '8',
]);
let staged: Staged;
let server: ServerProcess;
let snapshot: Snapshot;
beforeAll(() => void ({ staged, server, snapshot } = demo));

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function features(count: number, seed: number) {
  const cfg = staged.bundle.config.query;
  return generateFeatures({ numDense: cfg.numDense, numCategorical: cfg.numCategorical }, count, seed);
}

/** Expected scores computed apart from the server: reference query tower, then dot + sigmoid. */
function expectedScores(dense: Float32Array, categorical: BigInt64Array, rows: number[]): number[][] {
  const q = runTowerReference(generateTowerWeights(staged.bundle.config, 'query'), dense, categorical);
  const { tasks, dim } = snapshot;
  return tasks.map((_, t) =>
    rows.map((row) => {
      const p = snapshot.vector(row, t);
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += q[t * dim + d]! * p[d]!;
      return sigmoid(dot);
    }),
  );
}

describe('golden scores', () => {
  it('scores candidates like the reference math, aligned with the request, unknown ids listed', async () => {
    const { dense, categorical } = features(1, 11);
    const rows = Array.from({ length: 60 }, (_, i) => (i * 37) % snapshot.rows);
    const ids = rows.map((r) => snapshot.ids[r]!.toString());
    const unknown = '12345';
    const candidates: (string | number)[] = [...ids.slice(0, 30), unknown, ...ids.slice(30)];
    const res = await server.post('/v1/models/golden/rank', {
      query: { dense: Array.from(dense), categorical: Array.from(categorical, Number) },
      candidates,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.modelVersion).toBe('m1');
    expect(res.body.snapshotVersion).toBe(snapshot.manifest.snapshotVersion);
    expect(res.body.tasks).toEqual(snapshot.tasks);
    expect(res.body.unknownIds).toEqual([unknown]);
    const want = expectedScores(dense, categorical, rows);
    snapshot.tasks.forEach((task, t) => {
      const got = res.body.scores[task] as (number | null)[];
      expect(got).toHaveLength(candidates.length);
      expect(got[30]).toBeNull();
      const known = [...got.slice(0, 30), ...got.slice(31)] as number[];
      known.forEach((s, i) => expect(Math.abs(s - want[t]![i]!)).toBeLessThanOrEqual(1e-5));
    });
  });

  it('returns the top K per task, best first, for a subset of tasks; safe-integer ids accepted', async () => {
    const { dense, categorical } = features(1, 12);
    const rows = Array.from({ length: 200 }, (_, i) => (i * 13 + 5) % snapshot.rows);
    const safe = rows.filter((r) => snapshot.ids[r]! <= BigInt(Number.MAX_SAFE_INTEGER));
    const candidates = rows.map((r) =>
      safe.includes(r) ? Number(snapshot.ids[r]!) : snapshot.ids[r]!.toString(),
    );
    const task = snapshot.tasks[1]!;
    const res = await server.post('/v1/models/golden/rank', {
      query: { dense: Array.from(dense), categorical: Array.from(categorical, String) },
      candidates,
      topK: 5,
      tasks: [task],
    });
    expect(res.status).toBe(200);
    expect(res.body.tasks).toEqual([task]);
    expect(res.body.scores).toBeUndefined();
    const want = expectedScores(dense, categorical, rows)[1]!;
    const order = want
      .map((s, i) => [s, i] as const)
      .sort((a, b) => b[0] - a[0])
      .slice(0, 5);
    const got = res.body.topK[task] as { id: string; score: number }[];
    expect(got.map((g) => g.id)).toEqual(order.map(([, i]) => snapshot.ids[rows[i]!]!.toString()));
    got.forEach((g, i) => expect(Math.abs(g.score - order[i]![0])).toBeLessThanOrEqual(1e-5));
  });

  it('accepts any int64 categorical id, negative and extreme ones included (hashed mod vocab)', async () => {
    for (const categorical of [
      [-5, -1, 0, '-9223372036854775808'],
      ['9223372036854775807', 1, 2, 3],
    ]) {
      const res = await server.post('/v1/models/golden/rank', {
        query: { dense: Array(16).fill(0.5), categorical },
        candidates: [snapshot.ids[0]!.toString()],
      });
      expect(res.status).toBe(200);
      expect(res.body.scores[snapshot.tasks[0]!][0]).toBeGreaterThan(0);
    }
  });

  it('answers a request whose ids are all unknown without scoring anything', async () => {
    const { dense, categorical } = features(1, 13);
    const res = await server.post('/v1/models/golden/rank', {
      query: { dense: Array.from(dense), categorical: Array.from(categorical, Number) },
      candidates: ['1', '2'],
    });
    expect(res.status).toBe(200);
    expect(res.body.unknownIds).toEqual(['1', '2']);
    expect(res.body.scores[snapshot.tasks[0]!]).toEqual([null, null]);
  });
});

describe('OIP v2', () => {
  it('serves server metadata, liveness and readiness', async () => {
    const meta = await server.get('/v2');
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({
      name: 'lightrank',
      version: expect.any(String),
      extensions: expect.any(Array),
    });
    expect((await server.get('/v2/health/live')).status).toBe(200);
    expect((await server.get('/v2/health/ready')).status).toBe(200);
    expect((await server.get('/v2/models/golden/ready')).status).toBe(200);
  });

  it('describes the query tower: names, datatypes, shapes', async () => {
    const res = await server.get('/v2/models/golden');
    expect(res.status).toBe(200);
    const cfg = staged.bundle.config;
    expect(res.body).toMatchObject({
      name: 'golden',
      versions: ['m1'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'dense', datatype: 'FP32', shape: [-1, cfg.query.numDense] },
        { name: 'categorical', datatype: 'INT64', shape: [-1, cfg.query.numCategorical] },
      ],
      outputs: [{ name: 'query', datatype: 'FP32', shape: [-1, cfg.tasks.length, cfg.dim] }],
    });
    expect(res.body.parameters.tower_fingerprint).toBe(staged.bundle.fingerprint);
  });

  it('runs the query tower on a batch (nested and flat data) like the reference, echoing the id', async () => {
    const { dense, categorical } = features(3, 21);
    const cfg = staged.bundle.config;
    const nested = Array.from({ length: 3 }, (_, b) =>
      Array.from(
        categorical.subarray(b * cfg.query.numCategorical, (b + 1) * cfg.query.numCategorical),
        Number,
      ),
    );
    const res = await server.post('/v2/models/golden/infer', {
      id: 'req-7',
      inputs: [
        { name: 'dense', shape: [3, cfg.query.numDense], datatype: 'FP32', data: Array.from(dense) },
        { name: 'categorical', shape: [3, cfg.query.numCategorical], datatype: 'INT64', data: nested },
      ],
      outputs: [{ name: 'query' }],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model_name: 'golden', model_version: 'm1', id: 'req-7' });
    const out = res.body.outputs[0];
    expect(out).toMatchObject({ name: 'query', datatype: 'FP32', shape: [3, cfg.tasks.length, cfg.dim] });
    const want = runTowerReference(generateTowerWeights(cfg, 'query'), dense, categorical);
    expect(out.data).toHaveLength(want.length);
    (out.data as number[]).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-5));
  });

  it('serves the version paths for the version serving, 404 for others', async () => {
    expect((await server.get('/v2/models/golden/versions/m1')).body.versions).toEqual(['m1']);
    expect((await server.get('/v2/models/golden/versions/m1/ready')).status).toBe(200);
    const other = await server.get('/v2/models/golden/versions/m0');
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({ code: 'MODEL_NOT_FOUND', error: expect.stringContaining('m0') });
  });

  it('answers errors with an OIP error body', async () => {
    const res = await server.get('/v2/models/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: expect.stringContaining('nope'), code: 'MODEL_NOT_FOUND' });
    const ready = await server.get('/v2/models/nope/ready');
    expect(ready.status).toBe(404);
  });
});

describe('malformed requests', () => {
  const cfg = () => modelConfig({ seed: 42 }).query; // the demo bundle's config (seed 42)
  const good = () => ({
    query: { dense: Array(cfg().numDense).fill(0.5), categorical: Array(cfg().numCategorical).fill(3) },
    candidates: [snapshot.ids[0]!.toString()],
  });
  const goodInfer = () => ({
    inputs: [
      { name: 'dense', shape: [1, cfg().numDense], datatype: 'FP32', data: Array(cfg().numDense).fill(0.5) },
      {
        name: 'categorical',
        shape: [1, cfg().numCategorical],
        datatype: 'INT64',
        data: Array(cfg().numCategorical).fill(3),
      },
    ],
  });
  // Malformed bodies are mutated freely: their shape is what is under test.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Loose = any;
  // Bodies are built when the case runs (the snapshot's ids are known only then).
  const rank = (mutate: (b: Loose) => void) => () => {
    const b: Loose = good();
    mutate(b);
    return b;
  };
  const infer = (mutate: (b: Loose) => void) => () => {
    const b: Loose = goodInfer();
    mutate(b);
    return b;
  };
  const R = '/v1/models/golden/rank';
  const I = '/v2/models/golden/infer';
  const JSON_CT = { 'content-type': 'application/json' };

  type Case = [
    name: string,
    path: string,
    body: unknown,
    status: number,
    code: string,
    field?: string,
    headers?: Record<string, string>,
  ];
  const cases: Case[] = [
    ['non-JSON body', R, '{"query": ', 400, 'MALFORMED_JSON', undefined, JSON_CT],
    [
      'wrong content type',
      R,
      'query=1',
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      undefined,
      { 'content-type': 'text/plain' },
    ],
    ['empty JSON body', R, '', 400, 'MALFORMED_JSON', undefined, JSON_CT],
    ['body is an array', R, [], 400, 'INVALID_ARGUMENT'],
    ['body is a string', R, '"hello"', 400, 'INVALID_ARGUMENT', undefined, JSON_CT],
    ['body is null', R, 'null', 400, 'INVALID_ARGUMENT', undefined, JSON_CT],
    ['missing query', R, rank((b) => delete b.query), 400, 'INVALID_ARGUMENT', 'query'],
    ['missing candidates', R, rank((b) => delete b.candidates), 400, 'INVALID_ARGUMENT', 'candidates'],
    ['empty candidates', R, rank((b) => (b.candidates = [])), 400, 'INVALID_ARGUMENT', 'candidates'],
    ['candidates not an array', R, rank((b) => (b.candidates = '17')), 400, 'INVALID_ARGUMENT', 'candidates'],
    ['negative id', R, rank((b) => (b.candidates = [-4])), 400, 'INVALID_ARGUMENT', 'candidates[0]'],
    ['fractional id', R, rank((b) => (b.candidates = ['1', 1.5])), 400, 'INVALID_ARGUMENT', 'candidates[1]'],
    [
      'non-numeric id string',
      R,
      rank((b) => (b.candidates = ['abc'])),
      400,
      'INVALID_ARGUMENT',
      'candidates[0]',
    ],
    [
      'id beyond 2^64',
      R,
      rank((b) => (b.candidates = ['18446744073709551616'])),
      400,
      'INVALID_ARGUMENT',
      'candidates[0]',
    ],
    [
      'unsafe integer id',
      R,
      rank((b) => (b.candidates = [2 ** 60])),
      400,
      'INVALID_ARGUMENT',
      'candidates[0]',
    ],
    [
      'id of the wrong type',
      R,
      rank((b) => (b.candidates = [{ id: 1 }])),
      400,
      'INVALID_ARGUMENT',
      'candidates[0]',
    ],
    [
      'too many candidates',
      R,
      rank((b) => (b.candidates = Array(MAX_CANDIDATES + 1).fill(1))),
      400,
      'INVALID_ARGUMENT',
      'candidates',
    ],
    ['dense too short', R, rank((b) => b.query.dense.pop()), 400, 'INVALID_ARGUMENT', 'query.dense'],
    [
      'dense holds a string',
      R,
      rank((b) => (b.query.dense[0] = 'x')),
      400,
      'INVALID_ARGUMENT',
      'query.dense[0]',
    ],
    [
      'dense beyond float32',
      R,
      rank((b) => (b.query.dense[1] = 1e39)),
      400,
      'INVALID_ARGUMENT',
      'query.dense[1]',
    ],
    [
      'dense holds null',
      R,
      rank((b) => (b.query.dense[2] = null)),
      400,
      'INVALID_ARGUMENT',
      'query.dense[2]',
    ],
    ['dense not an array', R, rank((b) => (b.query.dense = 1)), 400, 'INVALID_ARGUMENT', 'query.dense'],
    [
      'categorical too long',
      R,
      rank((b) => b.query.categorical.push(1)),
      400,
      'INVALID_ARGUMENT',
      'query.categorical',
    ],
    [
      'fractional categorical',
      R,
      rank((b) => (b.query.categorical[1] = 0.5)),
      400,
      'INVALID_ARGUMENT',
      'query.categorical[1]',
    ],
    [
      'categorical beyond int64',
      R,
      rank((b) => (b.query.categorical[0] = '9223372036854775808')),
      400,
      'INVALID_ARGUMENT',
      'query.categorical[0]',
    ],
    ['topK zero', R, rank((b) => (b.topK = 0)), 400, 'INVALID_ARGUMENT', 'topK'],
    ['topK fractional', R, rank((b) => (b.topK = 2.5)), 400, 'INVALID_ARGUMENT', 'topK'],
    ['unknown task', R, rank((b) => (b.tasks = ['ctr', 'revenue'])), 400, 'INVALID_ARGUMENT', 'tasks[1]'],
    ['duplicate tasks', R, rank((b) => (b.tasks = ['ctr', 'ctr'])), 400, 'INVALID_ARGUMENT', 'tasks'],
    ['unknown field', R, rank((b) => (b.extra = true)), 400, 'INVALID_ARGUMENT'],
    [
      'body over the size limit',
      R,
      rank((b) => (b.candidates = Array(30_000).fill('1234567890'))),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    ['unknown model', '/v1/models/other/rank', good, 404, 'MODEL_NOT_FOUND'],
    ['unknown route', '/v1/models/golden/score', good, 404, 'NOT_FOUND'],
    ['infer: missing inputs', I, () => ({}), 400, 'INVALID_ARGUMENT', 'inputs'],
    [
      'infer: unknown input',
      I,
      infer((b) => (b.inputs[0].name = 'wide')),
      400,
      'INVALID_ARGUMENT',
      'inputs[0].name',
    ],
    ['infer: missing an input', I, infer((b) => b.inputs.pop()), 400, 'INVALID_ARGUMENT', 'inputs'],
    [
      'infer: wrong datatype',
      I,
      infer((b) => (b.inputs[1].datatype = 'FP32')),
      400,
      'INVALID_ARGUMENT',
      'inputs[1].datatype',
    ],
    [
      'infer: wrong shape',
      I,
      infer((b) => (b.inputs[0].shape = [1, 3])),
      400,
      'INVALID_ARGUMENT',
      'inputs[0].shape',
    ],
    [
      'infer: too few elements',
      I,
      infer((b) => b.inputs[0].data.pop()),
      400,
      'INVALID_ARGUMENT',
      'inputs[0].data',
    ],
    [
      'infer: non-number data',
      I,
      infer((b) => (b.inputs[0].data[3] = 'a')),
      400,
      'INVALID_ARGUMENT',
      'inputs[0].data[3]',
    ],
    [
      'infer: beyond float32',
      I,
      infer((b) => (b.inputs[0].data[0] = -1e39)),
      400,
      'INVALID_ARGUMENT',
      'inputs[0].data[0]',
    ],
    [
      'infer: batch mismatch',
      I,
      infer((b) => (b.inputs[1].shape = [2, cfg().numCategorical])),
      400,
      'INVALID_ARGUMENT',
      'inputs[1].shape',
    ],
    [
      'infer: too many rows',
      I,
      infer((b) => (b.inputs[0].shape = [9, cfg().numDense])),
      400,
      'INVALID_ARGUMENT',
      'inputs[0].shape[0]',
    ],
    [
      'infer: unknown output',
      I,
      infer((b) => (b.outputs = [{ name: 'item' }])),
      400,
      'INVALID_ARGUMENT',
      'outputs[0].name',
    ],
    [
      'infer: nested too deep',
      I,
      infer((b) => (b.inputs[0].data = [[[0.5]]])),
      400,
      'INVALID_ARGUMENT',
      'inputs[0].data[0][0]',
    ],
    ['infer: unknown model', '/v2/models/other/infer', goodInfer, 404, 'MODEL_NOT_FOUND'],
  ];

  it.each(cases)('%s', async (_name, path, body, status, code, field, headers) => {
    const payload = typeof body === 'function' ? (body as () => unknown)() : body;
    const res = await server.post(path, payload, headers);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ error: expect.any(String), code });
    if (field !== undefined) {
      expect(res.body.field).toBe(field);
      expect(res.body.error).toContain(field);
    }
  });

  it('uses the demo config the cases assume', () => {
    expect(cfg()).toEqual(staged.bundle.config.query);
  });

  it('refuses a finite float32 feature beyond --max-dense-abs with 400 naming it and the limit', async () => {
    const body = good();
    body.query.dense[3] = -1e30; // valid float32, but the tower would overflow
    const res = await server.post(R, body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'query.dense[3]' });
    expect(res.body.error).toContain('exceeds the dense feature limit 1e+12 (--max-dense-abs)');
    const inf: Loose = goodInfer();
    for (const t of inf.inputs) {
      t.shape[0] = 2;
      t.data = [...t.data, ...t.data];
    }
    inf.inputs[0].data[20] = 5e13;
    const infer = await server.post(I, inf);
    expect(infer.status).toBe(400);
    expect(infer.body).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'inputs[0]' });
    expect(infer.body.error).toContain('element 20 (row 1, column 4)');
    expect(server.logs.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('leaves the process healthy and serving, with the errors counted', async () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(server.proc.exitCode).toBeNull();
    expect((await server.get('/v2/health/ready')).status).toBe(200);
    const ok = await server.post(R, good());
    expect(ok.status).toBe(200);
    expect(typeof ok.body.scores[snapshot.tasks[0]!][0]).toBe('number');
    const metrics = (await server.get('/metrics')).text;
    expect(metrics).toMatch(/lightrank_server_errors_total\{[^}]*code="INVALID_ARGUMENT"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/lightrank_server_requests_total\{[^}]*endpoint="rank",code="400"[^}]*\} [1-9]/);
  });
});

describe('execution provider', () => {
  it('falls back from CUDA to CPU with one clear warning', async () => {
    const warnings = server.logs.filter((l) => l.level === 40 && /CUDA/.test(l.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/falling back to CPU/);
    expect(warnings[0]!.reason).toEqual(expect.any(String));
    const meta = await server.get('/v2/models/golden');
    expect(meta.body.parameters.execution_provider).toBe('cpu');
  });
});
