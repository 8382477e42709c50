// A bounded fuzz of the real server process over loopback: every endpoint, deterministic
// (seeded PRNG), at most FUZZ_COUNT requests and FUZZ_BUDGET_MS. Bodies start valid (rank JSON,
// rank binary, OIP infer JSON, OIP binary extension) and are mutated at the value level (odd
// numbers, features that overflow the towers, wrong types, deep nesting, extra and missing keys)
// and at the byte level (flips, truncation, garbage, a mislabelled or real gzip coding, odd
// content types, charsets and Inference-Header-Content-Length values), plus odd paths and
// methods. Asserted: no 5xx at all, no error-level log line, and afterwards a live, ready server
// giving the same answers as before. Then the gRPC port: every method of both services with
// valid, value-mutated and byte-mangled messages; asserted: no status that would be a 5xx in
// REST (INTERNAL, UNKNOWN, DATA_LOSS, UNAVAILABLE, UNIMPLEMENTED), none left hanging (deadline),
// and the same answers after.
// The server runs with --max-dense-abs 1e30, so features that overflow the reference towers
// (from ~1e14) reach the model and exercise the non-finite-output path too (a 400).
//   LIGHTRANK_FUZZ_SEED / LIGHTRANK_FUZZ_COUNT override the seed and the count.
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { RANK_BINARY_TYPE, encodeRankBinaryRequest } from '../../server/binary.js';
import { loadProtos } from '../../server/grpc/server.js';
import { INFERENCE_HEADER_LENGTH } from '../../server/oip-binary.js';
import type { Snapshot } from '../../snapshot/index.js';
import { serveDemo } from './fixture.js';
import type { ServerProcess, Staged } from './harness.js';
import { rawRequest, type RawResponse } from './raw-http.js';

const SEED = Number(process.env.LIGHTRANK_FUZZ_SEED ?? 14);
const COUNT = Number(process.env.LIGHTRANK_FUZZ_COUNT ?? 2500);
const BUDGET_MS = 40_000;
const CONCURRENCY = 4;
const BODY_LIMIT = 200_000;
const MODEL = 'fuzz';

const demo = serveDemo(
  'lightrank-fuzz-',
  [
    '--model-name',
    MODEL,
    '--body-limit-bytes',
    String(BODY_LIMIT),
    '--max-candidates',
    '3000',
    '--max-infer-rows',
    '8',
    '--max-dense-abs',
    '1e30',
  ],
  { loadEmbeddings: false },
);
let staged: Staged;
let server: ServerProcess;
let snapshot: Snapshot;
beforeAll(() => void ({ staged, server, snapshot } = demo));

/** mulberry32: small, fast, and the same sequence on every platform. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!,
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

const cfg = () => staged.bundle.config.query;

// --- valid starting points -------------------------------------------------------------------

function knownIds(rng: Rng, n: number): string[] {
  return Array.from({ length: n }, () => snapshot.ids[rng.int(snapshot.rows)]!.toString());
}

function rankJson(rng: Rng): Record<string, unknown> {
  const body: Record<string, unknown> = {
    query: {
      dense: Array.from({ length: cfg().numDense }, () => rng.next() * 2 - 1),
      categorical: Array.from({ length: cfg().numCategorical }, () => rng.int(1000)),
    },
    candidates: [...knownIds(rng, 1 + rng.int(40)), ...(rng.chance(0.3) ? ['12345'] : [])],
  };
  if (rng.chance(0.3)) body.topK = 1 + rng.int(5);
  if (rng.chance(0.2)) body.tasks = [staged.bundle.config.tasks[0]!];
  return body;
}

function inferJson(rng: Rng, rows = 1 + rng.int(3)): Record<string, unknown> {
  const body: Record<string, unknown> = {
    inputs: [
      {
        name: 'dense',
        datatype: 'FP32',
        shape: [rows, cfg().numDense],
        data: Array.from({ length: rows * cfg().numDense }, () => rng.next()),
      },
      {
        name: 'categorical',
        datatype: 'INT64',
        shape: [rows, cfg().numCategorical],
        data: Array.from({ length: rows * cfg().numCategorical }, () => rng.int(100)),
      },
    ],
  };
  if (rng.chance(0.2)) body.id = 'r' + rng.int(100);
  if (rng.chance(0.2)) body.outputs = [{ name: 'query', parameters: { binary_data: rng.chance(0.5) } }];
  if (rng.chance(0.2)) body.parameters = { binary_data_output: rng.chance(0.5) };
  return body;
}

// --- mutations -------------------------------------------------------------------------------

const ODD_VALUES: unknown[] = [
  0,
  -0,
  1,
  -1,
  0.5,
  1e13,
  -1e13,
  1e14,
  -1e14,
  3e20,
  3.4e38,
  -3.4e38,
  1e39,
  1e308,
  2 ** 53,
  2 ** 64,
  -(2 ** 63),
  1e-45,
  '',
  'x',
  '1',
  '-1',
  '18446744073709551616',
  '9223372036854775808',
  '1e5',
  '0x10',
  ' 1',
  null,
  true,
  false,
  [],
  {},
  [[]],
  [1, [2, [3]]],
  { a: 1 },
  'é',
  '\u0000',
  'a'.repeat(300),
];

/** A fresh copy of one of ODD_VALUES (shared objects would let mutations build cycles). */
const odd = (rng: Rng): unknown => structuredClone(rng.pick(ODD_VALUES));

/** Every (container, key) in a JSON value, for picking a place to mutate. */
function places(v: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []) {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push([v, i]);
      places(x, out);
    });
  } else if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) {
    for (const [k, x] of Object.entries(v)) {
      out.push([v as Record<string, unknown>, k]);
      places(x, out);
    }
  }
  return out;
}

function mutateValue(rng: Rng, body: Record<string, unknown>): void {
  const all = places(body);
  if (all.length === 0) return;
  const [container, key] = rng.pick(all);
  const c = container as Record<string | number, unknown>;
  switch (rng.int(7)) {
    case 0:
    case 1:
      c[key] = odd(rng);
      break;
    case 2:
      if (Array.isArray(container)) container.splice(Number(key), 1);
      else delete c[key];
      break;
    case 3:
      if (Array.isArray(container)) container.push(odd(rng));
      else c[rng.pick(['extra', 'data', 'shape', 'parameters', 'id', 'topK', 'tasks', 'name'])] = odd(rng);
      break;
    case 4: {
      // a feature large enough to overflow the towers, or a long array
      const big = rng.pick([1e14, -1e15, 1e20, 3.3e38]);
      if (Array.isArray(c[key])) (c[key] as unknown[]).fill(big);
      else c[key] = Array(rng.pick([0, 17, 5000])).fill(big);
      break;
    }
    case 5:
      // nesting deeper than JSON.stringify can write: spliced into the text by deepen()
      c[key] = `__DEEP_${rng.pick([3, 3000, 60_000])}__`;
      break;
    default:
      c[key] = structuredClone(c[rng.pick(Object.keys(c))] ?? null);
  }
}

function deepen(text: string): string {
  return text.replace(
    /"__DEEP_(\d+)__"/g,
    (_, n: string) => '['.repeat(Number(n)) + '1' + ']'.repeat(Number(n)),
  );
}

function mutateText(rng: Rng, text: string): string {
  switch (rng.int(6)) {
    case 0:
      return text.slice(0, rng.int(text.length));
    case 1: {
      const at = rng.int(text.length);
      return (
        text.slice(0, at) +
        rng.pick(['}', ']', ',', '"', '\\', 'x', '1e400', 'NaN', '\u00ff']) +
        text.slice(at + 1)
      );
    }
    case 2:
      return text.replace(
        '{',
        rng.pick(['{"__proto__":{"a":1},', '{"constructor":{"prototype":{}},', '{"\\u005f_proto__":1,']),
      );
    case 3:
      return text.replace(
        /-?\d+\.\d+/,
        rng.pick(['1e400', '-1e400', '1e14', '123456789012345678901234567890']),
      );
    case 4:
      return '\ufeff' + text;
    default:
      return text + rng.pick(['', ' ', 'garbage', '{}', '\n\n']);
  }
}

function mutateBytes(rng: Rng, b: Buffer, headerBytes = 24): Buffer {
  const out = Buffer.from(b);
  switch (rng.int(5)) {
    case 0:
      return out.subarray(0, rng.int(out.length));
    case 1:
      return Buffer.concat([out, Buffer.alloc(1 + rng.int(16), rng.int(256))]);
    case 2: {
      // a header field (counts, magic, version) set to an odd value
      const at = 4 * rng.int(Math.max(1, Math.min(headerBytes, out.length - 3) / 4));
      if (at + 4 <= out.length)
        out.writeUInt32LE(rng.pick([0, 1, 2, 17, 4096, 4097, 0x7fffffff, 0xffffffff]), at);
      return out;
    }
    case 3: {
      // a float in the body set to NaN, Infinity or a huge finite value
      const at = headerBytes + 4 * rng.int(4);
      if (at + 4 <= out.length) out.writeFloatLE(rng.pick([NaN, Infinity, -Infinity, 1e14, 3e38]), at);
      return out;
    }
    default:
      for (let i = 0, n = 1 + rng.int(8); i < n && out.length > 0; i++)
        out[rng.int(out.length)] = rng.int(256);
      return out;
  }
}

// --- requests --------------------------------------------------------------------------------

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/octet-stream',
  RANK_BINARY_TYPE,
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'a/b; ; ;',
  '',
];

function finish(rng: Rng, req: Req): Req {
  const h = req.headers;
  if (req.body !== undefined) {
    if (rng.chance(0.1)) h['content-type'] = rng.pick(CONTENT_TYPES);
    if (rng.chance(0.1)) delete h['content-type'];
    if (rng.chance(0.08)) {
      req.body = gzipSync(req.body);
      h['content-encoding'] = 'gzip';
    } else if (rng.chance(0.04))
      h['content-encoding'] = rng.pick(['gzip', 'deflate', 'br', 'identity', 'gzip, deflate']);
    if (rng.chance(0.9)) h['content-length'] = String(req.body.length);
    // else: chunked
  }
  if (rng.chance(0.15))
    h['accept-encoding'] = rng.pick(['gzip', 'deflate', 'gzip;q=0', '*', 'br', 'x;q=abc']);
  if (rng.chance(0.05)) h[INFERENCE_HEADER_LENGTH] = rng.pick(['0', '-1', 'abc', '99999999', '1', '1e3']);
  return req;
}

const M = `/v2/models/${MODEL}`;
const V = `${M}/versions/m1`;
const GET_PATHS = [
  '/v2',
  '/v2/health/live',
  '/v2/health/ready',
  M,
  `${M}/ready`,
  V,
  `${V}/ready`,
  `${M}/versions/zz`,
  '/v2/models/other',
  '/v2/models/%ZZ',
  '/v2/models/%E0%A4%A/ready',
  `/v2/models/${'n'.repeat(300)}`,
  '/metrics',
  '/',
  '/v1/models/fuzz/rank',
  '/v2/models/fuzz/infer?x=%ZZ',
  '/v2//models',
  '/v2/models/fuzz/versions/m1/versions/m1',
];

function nextRequest(rng: Rng): Req {
  const kind = rng.int(10);
  if (kind === 0) {
    const method = rng.pick(['GET', 'GET', 'HEAD', 'DELETE', 'PUT', 'OPTIONS', 'PATCH']);
    return finish(rng, { method, path: rng.pick(GET_PATHS), headers: {} });
  }
  if (kind <= 3) {
    const body = rankJson(rng);
    for (let i = 0, n = rng.int(4); i < n; i++) mutateValue(rng, body);
    let text = deepen(JSON.stringify(body));
    if (rng.chance(0.3)) text = mutateText(rng, text);
    const path = rng.chance(0.9)
      ? '/v1/models/fuzz/rank'
      : rng.pick(['/v1/models/other/rank', '/v1/models/%ZZ/rank']);
    return finish(rng, {
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(text),
    });
  }
  if (kind === 4) {
    const n = 1 + rng.int(50);
    const ids = BigUint64Array.from(knownIds(rng, n), BigInt);
    const dense = Float32Array.from({ length: cfg().numDense }, () => rng.next());
    const cat = BigInt64Array.from({ length: cfg().numCategorical }, () => BigInt(rng.int(50)));
    let body = encodeRankBinaryRequest(dense, cat, ids);
    if (rng.chance(0.8)) body = mutateBytes(rng, body);
    return finish(rng, {
      method: 'POST',
      path: '/v1/models/fuzz/rank',
      headers: { 'content-type': RANK_BINARY_TYPE },
      body,
    });
  }
  if (kind <= 7) {
    const body = inferJson(rng);
    for (let i = 0, n = rng.int(4); i < n; i++) mutateValue(rng, body);
    let text = deepen(JSON.stringify(body));
    if (rng.chance(0.3)) text = mutateText(rng, text);
    const path = rng.chance(0.85)
      ? `${M}/infer`
      : rng.pick([`${V}/infer`, `${M}/versions/m0/infer`, '/v2/models/x/infer']);
    return finish(rng, {
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(text),
    });
  }
  // the binary tensor extension
  const rows = 1 + rng.int(3);
  const dense = Float32Array.from({ length: rows * cfg().numDense }, () => rng.next());
  const cat = BigInt64Array.from({ length: rows * cfg().numCategorical }, () => BigInt(rng.int(50)));
  const header: Record<string, unknown> = {
    inputs: [
      {
        name: 'dense',
        datatype: 'FP32',
        shape: [rows, cfg().numDense],
        parameters: { binary_data_size: dense.byteLength },
      },
      {
        name: 'categorical',
        datatype: 'INT64',
        shape: [rows, cfg().numCategorical],
        parameters: { binary_data_size: cat.byteLength },
      },
    ],
    parameters: { binary_data_output: rng.chance(0.5) },
  };
  for (let i = 0, n = rng.int(3); i < n; i++) mutateValue(rng, header);
  const json = Buffer.from(deepen(JSON.stringify(header)));
  const body = Buffer.concat([json, Buffer.from(dense.buffer), Buffer.from(cat.buffer)]);
  const headerLength = json.length;
  const bytes = rng.chance(0.3) ? mutateBytes(rng, body, headerLength) : body;
  const length = rng.chance(0.85) ? headerLength : headerLength + rng.pick([-1, 1, -headerLength, 10_000]);
  return finish(rng, {
    method: 'POST',
    path: `${M}/infer`,
    headers: { 'content-type': 'application/octet-stream', [INFERENCE_HEADER_LENGTH]: String(length) },
    body: bytes,
  });
}

// --- gRPC ------------------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any */
const GRPC_METHODS: [service: string, method: string][] = [
  ['inference.GRPCInferenceService', 'ServerLive'],
  ['inference.GRPCInferenceService', 'ServerReady'],
  ['inference.GRPCInferenceService', 'ModelReady'],
  ['inference.GRPCInferenceService', 'ServerMetadata'],
  ['inference.GRPCInferenceService', 'ModelMetadata'],
  ['inference.GRPCInferenceService', 'ModelInfer'],
  ['lightrank.v1.Ranking', 'Rank'],
];

/** A message for `method`, valid or mutated, serialized (then maybe mangled as bytes). */
function grpcMessage(
  rng: Rng,
  services: Record<string, grpc.ServiceDefinition>,
  service: string,
  method: string,
): Buffer {
  let msg: Record<string, unknown>;
  if (method === 'ModelInfer') {
    const rows = 1 + rng.int(3);
    const dense = Float32Array.from({ length: rows * cfg().numDense }, () => rng.next());
    const cat = BigInt64Array.from({ length: rows * cfg().numCategorical }, () => BigInt(rng.int(50)));
    const raw = rng.chance(0.5);
    msg = {
      model_name: rng.chance(0.9) ? MODEL : rng.pick(['', 'x', MODEL + '2']),
      model_version: rng.pick(['', '', 'm1', 'zz']),
      inputs: [
        {
          name: 'dense',
          datatype: 'FP32',
          shape: [rows, cfg().numDense],
          ...(raw ? {} : { contents: { fp32_contents: Array.from(dense) } }),
        },
        {
          name: 'categorical',
          datatype: 'INT64',
          shape: [rows, cfg().numCategorical],
          ...(raw ? {} : { contents: { int64_contents: Array.from(cat, String) } }),
        },
      ],
      ...(raw ? { raw_input_contents: [Buffer.from(dense.buffer), Buffer.from(cat.buffer)] } : {}),
      ...(rng.chance(0.2)
        ? {
            parameters: {
              [rng.pick(['sequence_id', 'priority', 'triton_x', 'other'])]: rng.pick([
                { int64_param: 3 },
                { bool_param: true },
                { string_param: 's' },
                { double_param: 0.5 },
                {},
              ]),
            },
          }
        : {}),
    };
  } else if (method === 'Rank') {
    msg = {
      model_name: rng.chance(0.9) ? MODEL : 'x',
      dense: Array.from({ length: cfg().numDense }, () => rng.next()),
      categorical: Array.from({ length: cfg().numCategorical }, () => String(rng.int(1000))),
      candidates: knownIds(rng, 1 + rng.int(40)),
      top_k: rng.chance(0.3) ? rng.int(10) : 0,
      tasks: rng.chance(0.2) ? [rng.pick([...staged.bundle.config.tasks, 'nope'])] : [],
    };
  } else {
    msg = { name: rng.chance(0.8) ? MODEL : 'x', version: rng.pick(['', 'm1', 'm0']) };
  }
  for (let i = 0, n = rng.int(3); i < n; i++) mutateValue(rng, msg);
  let bytes: Buffer;
  try {
    bytes = services[service]![method]!.requestSerialize(msg as any);
  } catch {
    bytes = services[service]![method]!.requestSerialize({} as any); // not encodable: send an empty message
  }
  return rng.chance(0.3) ? mutateBytes(rng, bytes, 0) : bytes;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** gRPC statuses that would be a 5xx in REST: the server's fault, not the client's. */
const SERVER_FAULT = new Set([
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.DATA_LOSS,
  grpc.status.UNAVAILABLE,
  grpc.status.UNIMPLEMENTED,
]);

// --- the run ---------------------------------------------------------------------------------

/** The answers compared before and after the fuzz: rank JSON, rank binary, infer JSON. */
async function answers(): Promise<unknown[]> {
  const rng = prng(7);
  const rank = rankJson(rng);
  delete rank.topK;
  delete rank.tasks;
  const infer = inferJson(rng, 2);
  delete infer.outputs;
  delete infer.parameters;
  const ids = BigUint64Array.from(knownIds(rng, 30), BigInt);
  const bin = encodeRankBinaryRequest(
    new Float32Array(cfg().numDense).fill(0.25),
    new BigInt64Array(cfg().numCategorical),
    ids,
  );
  const json = { 'content-type': 'application/json' };
  const res = await Promise.all([
    rawRequest(server.port, 'POST', '/v1/models/fuzz/rank', json, JSON.stringify(rank)),
    rawRequest(server.port, 'POST', '/v1/models/fuzz/rank', { 'content-type': RANK_BINARY_TYPE }, bin),
    rawRequest(server.port, 'POST', `${M}/infer`, json, JSON.stringify(infer)),
  ]);
  for (const r of res) expect(r.status).toBe(200);
  return [res[0]!.json(), res[1]!.body.toString('base64'), res[2]!.json()];
}

const rssKb = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

describe(`fuzz (seed ${SEED}, ≤ ${COUNT} requests, ≤ ${BUDGET_MS / 1000} s)`, () => {
  it('features that overflow the towers within --max-dense-abs are a 400 naming the input, not a 500', async () => {
    const rank = rankJson(prng(1));
    (rank.query as { dense: number[] }).dense[2] = 1e14;
    const r = await rawRequest(
      server.port,
      'POST',
      '/v1/models/fuzz/rank',
      { 'content-type': 'application/json' },
      JSON.stringify(rank),
    );
    expect(r.status).toBe(400);
    expect(r.json()).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'query.dense' });
    expect(r.json().error).toMatch(
      /not finite for these features \(largest \|x\| = 1\.000e\+14, within the limit 1e\+30/,
    );
    const infer = inferJson(prng(2), 3);
    (infer.inputs as { data: number[] }[])[0]!.data[2 * cfg().numDense + 1] = -2e15;
    const i = await rawRequest(
      server.port,
      'POST',
      `${M}/infer`,
      { 'content-type': 'application/json' },
      JSON.stringify(infer),
    );
    expect(i.status).toBe(400);
    expect(i.json()).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'inputs[0]' });
    expect(i.json().error).toContain('row 2:');
  });

  it('answers every request below 500, logs no error, and serves the same answers after', async () => {
    const before = await answers();
    const rssBefore = rssKb(server.proc.pid!);
    const logsBefore = server.logs.length;
    const rng = prng(SEED);
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const statuses = new Map<number, number>();
    const fiveXX: { req: string; status: number; body: string }[] = [];
    const transport: string[] = [];
    const deadline = Date.now() + BUDGET_MS;
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < COUNT && Date.now() < deadline) {
        sent++;
        const req = nextRequest(rng);
        let res: RawResponse;
        try {
          res = await rawRequest(server.port, req.method, req.path, req.headers, req.body, agent);
        } catch (e) {
          transport.push(`${req.method} ${req.path}: ${(e as Error).message}`);
          continue;
        }
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500)
          fiveXX.push({
            req: `${req.method} ${req.path} ${JSON.stringify(req.headers)} ${req.body?.subarray(0, 300).toString('utf8') ?? ''}`,
            status: res.status,
            body: res.body.subarray(0, 300).toString('utf8'),
          });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    console.log(
      `fuzz seed ${SEED}: ${sent} requests; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(sent).toBeGreaterThanOrEqual(Math.min(COUNT, 500));
    expect(fiveXX).toEqual([]);
    expect(transport).toEqual([]);
    expect([...statuses.keys()].filter((s) => s >= 400).length).toBeGreaterThan(3); // it did reach the checks
    expect(statuses.get(200) ?? 0).toBeGreaterThan(sent / 20); // and the scoring paths
    expect(server.logs.slice(logsBefore).filter((l) => l.level >= 50)).toEqual([]);
    expect(server.proc.exitCode).toBeNull();
    expect((await rawRequest(server.port, 'GET', '/v2/health/live', {})).status).toBe(200);
    expect((await rawRequest(server.port, 'GET', '/v2/health/ready', {})).status).toBe(200);
    expect(await answers()).toEqual(before);
    const rssAfter = rssKb(server.proc.pid!);
    console.log(`fuzz: server RSS ${Math.round(rssBefore / 1024)} → ${Math.round(rssAfter / 1024)} MiB`);
    expect(rssAfter - rssBefore).toBeLessThan(256 * 1024);
  }, 120_000);

  it('answers every gRPC call with a client status (no INTERNAL, UNKNOWN, UNAVAILABLE), then the same answers', async () => {
    const before = await answers();
    const pkg = loadProtos() as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const services: Record<string, grpc.ServiceDefinition> = {
      'inference.GRPCInferenceService': pkg.inference.GRPCInferenceService.service,
      'lightrank.v1.Ranking': pkg.lightrank.v1.Ranking.service,
    };
    const client = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    const rng = prng(SEED + 1);
    const codes = new Map<string, number>();
    const faults: string[] = [];
    const count = Math.ceil(COUNT / 2);
    const deadline = Date.now() + BUDGET_MS / 2;
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < count && Date.now() < deadline) {
        sent++;
        const [service, method] = rng.pick(GRPC_METHODS);
        const bytes = grpcMessage(rng, services, service, method);
        const code = await new Promise<grpc.status>((resolve) =>
          client.makeUnaryRequest(
            `/${service}/${method}`,
            (b: Buffer) => b,
            (b: Buffer) => b,
            bytes,
            (err) => {
              if (err && SERVER_FAULT.has(err.code))
                faults.push(`${method} ${bytes.subarray(0, 64).toString('hex')}: ${err.code} ${err.details}`);
              resolve(err ? err.code : grpc.status.OK);
            },
          ),
        );
        const name = grpc.status[code]!;
        codes.set(name, (codes.get(name) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    client.close();
    console.log(`grpc fuzz seed ${SEED + 1}: ${sent} calls; ${JSON.stringify(Object.fromEntries(codes))}`);
    expect(sent).toBeGreaterThanOrEqual(Math.min(count, 300));
    expect(faults).toEqual([]);
    expect(codes.get('OK') ?? 0).toBeGreaterThan(sent / 10);
    expect(codes.get('INVALID_ARGUMENT') ?? 0).toBeGreaterThan(0);
    expect(server.logs.filter((l) => l.level >= 50)).toEqual([]);
    expect(await answers()).toEqual(before);
  }, 120_000);
});
