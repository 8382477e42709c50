// The dataplane: decode (schema, then checks against the loaded model, then id → snapshot row
// lookup) → infer (through the version's batcher) → encode, for the ranking endpoint and OIP v2
// infer. Everything a request can get wrong is found in decode, before the request can join a
// batch shared with others. A request holds the version it started on until it has answered.
//
// API:
//   new Dataplane(registry, metrics, limits)
//   dataplane.rank(modelName, body) → Promise<Buffer>          the RankResponse as JSON (encode.ts)
//   dataplane.rankBinary(modelName, body: Buffer) → Promise<Buffer>  the binary encoding (binary.ts)
//   dataplane.infer(modelName, body, inferenceHeaderLength?) → Promise<InferResponse | BinaryInferResponse>
//     with inferenceHeaderLength (the request header's value) the body is a Buffer in the OIP
//     binary tensor extension (oip-binary.ts); binary outputs only when the request asks for them
//   dataplane.metadata(modelName) → ModelMetadata;  dataplane.modelReady(modelName) → boolean
import type { ZodType } from 'zod';
import { invalidArgument, modelNotReady } from './errors.js';
import { decodeRankBinary, encodeRankBinary } from './binary.js';
import { encodeRankResponse, type EncodableRankResponse } from './encode.js';
import {
  type BinaryInferResponse,
  binaryOutputRequested,
  encodeBinaryInferResponse,
  sliceBinaryInputs,
  splitBinaryBody,
} from './oip-binary.js';
import type { ModelRegistry } from './lifecycle/registry.js';
import type { ServedVersion } from './lifecycle/version.js';
import type { ServerMetrics, Stage } from './metrics.js';
import {
  firstIssue,
  inferRequestSchema,
  parseInt64,
  rankRequestSchema,
  type InferRequest,
  type RankRequest,
} from './schemas.js';

export interface DataplaneLimits {
  maxCandidates: number;
  maxInferRows: number;
  /** largest |x| of a dense feature (beyond it the towers can overflow float32) */
  maxDenseAbs: number;
}

export interface RankResponse {
  model: string;
  modelVersion: string;
  snapshotVersion: string;
  tasks: string[];
  /** per task, aligned with the request's candidates; null where the id is unknown */
  scores?: Record<string, (number | null)[]>;
  /** per task, the best `topK` known candidates, best first */
  topK?: Record<string, { id: string; score: number }[]>;
  /** candidate ids not in the snapshot: listed here, not scored */
  unknownIds: string[];
}

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

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
  parameters: Record<string, unknown>;
}

function parseOrThrow<T>(schema: ZodType<T>, body: unknown): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalidArgument('', 'request body must be a JSON object');
  const r = schema.safeParse(body, { reportInput: true });
  if (!r.success) {
    const { field, message } = firstIssue(r.error);
    throw invalidArgument(field, message);
  }
  return r.data;
}

export class Dataplane {
  private readonly rankSchema;
  private readonly inferSchema;
  private readonly inferBinarySchema;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly metrics: ServerMetrics,
    private readonly limits: DataplaneLimits,
  ) {
    this.rankSchema = rankRequestSchema(limits);
    const inferLimits = { maxInferRows: limits.maxInferRows, maxElements: limits.maxInferRows * 4096 };
    this.inferSchema = inferRequestSchema(inferLimits);
    this.inferBinarySchema = inferRequestSchema(inferLimits, { binaryData: true });
  }

  private stage(stage: Stage, t0: bigint): bigint {
    const now = process.hrtime.bigint();
    this.metrics.observeStage(stage, Number(now - t0) / 1e9);
    return now;
  }

  metadata(name: string): ModelMetadata {
    const v = this.registry.peek(name);
    if (!v) throw modelNotReady(name);
    return {
      name,
      versions: [v.model.version],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'dense', datatype: 'FP32', shape: [-1, v.numDense] },
        { name: 'categorical', datatype: 'INT64', shape: [-1, v.numCategorical] },
      ],
      outputs: [{ name: 'query', datatype: 'FP32', shape: [-1, v.tasks.length, v.dim] }],
      parameters: {
        tasks: v.tasks,
        tower_fingerprint: v.model.fingerprint,
        snapshot_version: v.snapshot.version,
        snapshot_rows: v.snapshot.rows,
        execution_provider: v.provider,
      },
    };
  }

  modelReady(name: string): boolean {
    const v = this.registry.peek(name);
    return v !== undefined && v.healthy;
  }

  async rank(name: string, body: unknown): Promise<Buffer> {
    let t = process.hrtime.bigint();
    const req = parseOrThrow<RankRequest>(this.rankSchema, body);
    const v = this.registry.acquire(name);
    try {
      const decoded = this.decodeRank(v, req);
      t = this.stage('decode', t);
      if (decoded.knownCount === 0) return this.encodeRank(v, req, decoded, undefined, t);
      const r = await v.batcher.submit({
        rows: 1,
        dense: decoded.dense,
        categorical: decoded.categorical,
        wantQuery: false,
        indices: decoded.known,
      });
      this.metrics.observeStage('queue', r.queueSeconds);
      this.metrics.observeStage('query_tower', r.queryTowerSeconds);
      this.metrics.observeStage('scoring', r.scoringSeconds);
      requireFinite(r.scores!, decoded.largest, 'query.dense', this.limits.maxDenseAbs);
      return this.encodeRank(v, req, decoded, r.scores, process.hrtime.bigint());
    } finally {
      v.release();
    }
  }

  /** The ranking endpoint in the binary encoding: all tasks, scores aligned with the candidates. */
  async rankBinary(name: string, body: Buffer): Promise<Buffer> {
    let t = process.hrtime.bigint();
    const req = decodeRankBinary(body, this.limits);
    const v = this.registry.acquire(name);
    try {
      if (req.dense.length !== v.numDense)
        throw invalidArgument('numDense', `expected ${v.numDense}, got ${req.dense.length}`);
      if (req.categorical.length !== v.numCategorical)
        throw invalidArgument(
          'numCategorical',
          `expected ${v.numCategorical}, got ${req.categorical.length}`,
        );
      const largest = checkDenseMagnitude(req.dense, this.limits.maxDenseAbs, (i) => `query.dense[${i}]`);
      const n = req.ids.length;
      const rows = v.lookup(req.ids);
      let knownCount = 0;
      for (let i = 0; i < n; i++) if (rows[i]! >= 0) knownCount++;
      const known = new Int32Array(knownCount);
      const unknownPositions = new Uint32Array(n - knownCount);
      for (let i = 0, k = 0, u = 0; i < n; i++) {
        if (rows[i]! >= 0) known[k++] = rows[i]!;
        else unknownPositions[u++] = i;
      }
      t = this.stage('decode', t);
      let scores: Float32Array = new Float32Array(0);
      if (knownCount > 0) {
        const r = await v.batcher.submit({
          rows: 1,
          dense: req.dense,
          categorical: req.categorical,
          wantQuery: false,
          indices: known,
        });
        this.metrics.observeStage('queue', r.queueSeconds);
        this.metrics.observeStage('query_tower', r.queryTowerSeconds);
        this.metrics.observeStage('scoring', r.scoringSeconds);
        requireFinite(r.scores!, largest, 'query.dense', this.limits.maxDenseAbs);
        scores = r.scores!;
        t = process.hrtime.bigint();
      }
      v.tasks.forEach((task, ti) =>
        this.metrics.observeScores(task, scores.subarray(ti * knownCount, (ti + 1) * knownCount)),
      );
      this.metrics.scored(knownCount, unknownPositions.length);
      const out = encodeRankBinary({
        model: this.registry.name,
        modelVersion: v.model.version,
        snapshotVersion: v.snapshot.version,
        tasks: v.tasks,
        numCandidates: n,
        known: scores,
        present: rows,
        unknownPositions,
      });
      this.stage('encode', t);
      return out;
    } finally {
      v.release();
    }
  }

  private decodeRank(v: ServedVersion, req: RankRequest) {
    const { dense, categorical } = req.query;
    if (dense.length !== v.numDense) {
      throw invalidArgument('query.dense', `expected ${v.numDense} numbers, got ${dense.length}`);
    }
    if (categorical.length !== v.numCategorical) {
      throw invalidArgument(
        'query.categorical',
        `expected ${v.numCategorical} integers, got ${categorical.length}`,
      );
    }
    const largest = checkDenseMagnitude(dense, this.limits.maxDenseAbs, (i) => `query.dense[${i}]`);
    const cat = new BigInt64Array(categorical.length);
    for (let i = 0; i < categorical.length; i++) {
      const b = parseInt64(categorical[i]!);
      if (b === undefined)
        throw invalidArgument(`query.categorical[${i}]`, 'outside the signed 64-bit range');
      cat[i] = b;
    }
    const taskIdx = (req.tasks ?? v.tasks).map((task, i) => {
      const at = v.tasks.indexOf(task);
      if (at < 0)
        throw invalidArgument(`tasks[${i}]`, `unknown task "${task}"; this model has ${v.tasks.join(', ')}`);
      return at;
    });
    const ids = req.candidates;
    const n = ids.length;
    const rows = v.lookup(ids);
    let knownCount = 0;
    for (let i = 0; i < n; i++) if (rows[i]! >= 0) knownCount++;
    const known = new Int32Array(knownCount);
    const unknownIds: string[] = [];
    for (let i = 0, k = 0; i < n; i++) {
      if (rows[i]! >= 0) known[k++] = rows[i]!;
      else unknownIds.push(String(ids[i]));
    }
    return {
      dense: Float32Array.from(dense),
      largest,
      categorical: cat,
      taskIdx,
      rows,
      known,
      knownCount,
      unknownIds,
    };
  }

  private encodeRank(
    v: ServedVersion,
    req: RankRequest,
    d: ReturnType<Dataplane['decodeRank']>,
    scores: Float32Array | undefined,
    t0: bigint,
  ): Buffer {
    const n = req.candidates.length;
    const k = d.knownCount; // d.known itself went to the worker (transferred, now detached)
    const tasks = d.taskIdx.map((i) => v.tasks[i]!);
    const res: EncodableRankResponse = {
      model: this.registry.name,
      modelVersion: v.model.version,
      snapshotVersion: v.snapshot.version,
      tasks,
      unknownIds: d.unknownIds,
    };
    const perTask = d.taskIdx.map((ti) =>
      scores ? scores.subarray(ti * k, (ti + 1) * k) : new Float32Array(0),
    );
    if (req.topK !== undefined) {
      const knownPos = new Int32Array(k); // position in the request of the j-th known candidate
      for (let i = 0, j = 0; i < n; i++) if (d.rows[i]! >= 0) knownPos[j++] = i;
      res.topK = {};
      tasks.forEach((task, t) => {
        const s = perTask[t]!;
        const order = topIndices(s, Math.min(req.topK!, k));
        res.topK![task] = order.map((j) => ({ id: String(req.candidates[knownPos[j]!]), score: s[j]! }));
      });
    } else {
      res.scores = {};
      tasks.forEach((task, t) => (res.scores![task] = { values: perTask[t]!, present: d.rows }));
    }
    tasks.forEach((task, t) => this.metrics.observeScores(task, perTask[t]!));
    this.metrics.scored(k, d.unknownIds.length);
    const json = encodeRankResponse(res);
    this.stage('encode', t0);
    return json;
  }

  async infer(
    name: string,
    body: unknown,
    inferenceHeaderLength?: string,
  ): Promise<InferResponse | BinaryInferResponse> {
    let t = process.hrtime.bigint();
    let req: InferRequest;
    let binary: (Buffer | undefined)[] = [];
    if (inferenceHeaderLength === undefined) req = parseOrThrow<InferRequest>(this.inferSchema, body);
    else {
      const { header, tail } = splitBinaryBody(body, inferenceHeaderLength);
      req = parseOrThrow<InferRequest>(this.inferBinarySchema, header);
      binary = sliceBinaryInputs(req.inputs, tail);
    }
    const binaryOutput = binaryOutputRequested(req, 'query');
    checkInferParameters(req.parameters, name);
    const v = this.registry.acquire(name);
    try {
      const { rows, dense, categorical, denseInput } = decodeInfer(v, req, binary);
      const largest = checkDenseMagnitude(
        dense,
        this.limits.maxDenseAbs,
        () => `inputs[${denseInput}]`,
        v.numDense,
      );
      t = this.stage('decode', t);
      const r = await v.batcher.submit({ rows, dense, categorical, wantQuery: true });
      this.metrics.observeStage('queue', r.queueSeconds);
      this.metrics.observeStage('query_tower', r.queryTowerSeconds);
      requireFinite(
        r.query!,
        largest,
        `inputs[${denseInput}]`,
        this.limits.maxDenseAbs,
        v.tasks.length * v.dim,
      );
      t = process.hrtime.bigint();
      const query = r.query!;
      const output: OipTensor = { name: 'query', datatype: 'FP32', shape: [rows, v.tasks.length, v.dim] };
      if (binaryOutput) output.parameters = { binary_data_size: query.byteLength };
      else output.data = Array.from(query);
      const res: InferResponse = {
        model_name: this.registry.name,
        model_version: v.model.version,
        ...(req.id !== undefined ? { id: req.id } : {}),
        outputs: [output],
      };
      const out = binaryOutput ? encodeBinaryInferResponse(res, [query]) : res;
      this.stage('encode', t);
      return out;
    } finally {
      v.release();
    }
  }
}

/**
 * Refuses dense features larger than `limit` in magnitude, naming the feature (`field(i)`; with
 * `rowWidth`, the message also gives the row and column of a batch). Returns each row's largest
 * |x| (for requireFinite's message: the arrays themselves go to a worker, transferred).
 */
function checkDenseMagnitude(
  dense: ArrayLike<number>,
  limit: number,
  field: (i: number) => string,
  rowWidth = dense.length,
): Float64Array {
  const largest = new Float64Array(rowWidth > 0 ? Math.ceil(dense.length / rowWidth) : 1);
  for (let i = 0; i < dense.length; i++) {
    const x = Math.abs(dense[i]!);
    if (x > limit) {
      const where =
        rowWidth < dense.length
          ? `element ${i} (row ${Math.floor(i / rowWidth)}, column ${i % rowWidth}) `
          : '';
      throw invalidArgument(
        field(i),
        `${where}|x| = ${x.toExponential(3)} exceeds the dense feature limit ${limit.toExponential(0)} ` +
          '(--max-dense-abs): features this large overflow the towers',
      );
    }
    const row = Math.floor(i / rowWidth);
    if (x > largest[row]!) largest[row] = x;
  }
  return largest;
}

/**
 * Non-finite model outputs for features within the limit: the features are outside what this
 * model can compute in float32 (a version is only served after producing finite output for a
 * plain query, lifecycle/version.ts), so the request is refused as the client's, with a 400
 * naming the input, the row (a batch's rows are independent) and the limit — never sent as
 * JSON nulls, which would read like unknown ids. `largest`: each row's largest |feature|;
 * `rowSize`: output values per input row (a batch); without it the output is one row's.
 */
function requireFinite(
  values: Float32Array,
  largest: Float64Array,
  field: string,
  limit: number,
  rowSize?: number,
): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      const row = rowSize ? Math.floor(i / rowSize) : 0;
      throw invalidArgument(
        field,
        `${rowSize ? `row ${row}: ` : ''}the model's output is not finite for these features ` +
          `(largest |x| = ${largest[row]!.toExponential(3)}, within the limit ${limit.toExponential(0)} of ` +
          '--max-dense-abs): they are outside the range this model computes in float32; send smaller (normalised) features',
      );
    }
  }
}

/** The k largest entries' indices, best first (ties: lower index first). */
function topIndices(s: Float32Array, k: number): number[] {
  const idx = Array.from({ length: s.length }, (_, i) => i);
  if (k * 8 < s.length) {
    // partial: keep a sorted buffer of the best k
    const best: number[] = [];
    for (let i = 0; i < s.length; i++) {
      if (best.length === k && s[i]! <= s[best[k - 1]!]!) continue;
      let at = best.length;
      while (at > 0 && s[best[at - 1]!]! < s[i]!) at--;
      best.splice(at, 0, i);
      if (best.length > k) best.pop();
    }
    return best;
  }
  idx.sort((a, b) => s[b]! - s[a]! || a - b);
  return idx.slice(0, k);
}

const INPUTS = { dense: 'FP32', categorical: 'INT64' } as const;

const isUint = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * The request-level parameters Triton reads, type-checked as Triton does; what this model cannot
 * honour is refused rather than ignored: it is not a sequence (stateful) model, so a sequence id
 * (other than 0 or "", which mean none) and sequence_start/sequence_end true are refused.
 * `priority` and `timeout` are accepted and have no effect (one queue, no deadline); keys starting
 * with `triton_` are reserved, as in Triton; other keys are custom parameters and ignored.
 */
export function checkInferParameters(params: Record<string, unknown> | undefined, model: string): void {
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

/** Flattens OIP tensor data (flat or nested row-major) into `out`, refusing non-numbers. */
function flatten(
  data: unknown[],
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

/** A binary input's bytes as a fresh (aligned) typed array; the host is little-endian. */
function fromBytes<T>(bytes: Buffer, make: (buffer: ArrayBuffer) => T): T {
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return make(copy);
}

/**
 * Checks the inputs against the loaded model and gathers them into typed arrays. `binary[i]`
 * holds input i's bytes when it came in the binary extension (its size is already checked
 * against its shape and datatype), else input i's JSON `data` is read.
 */
function decodeInfer(
  v: ServedVersion,
  req: InferRequest,
  binary: readonly (Buffer | undefined)[],
): { rows: number; dense: Float32Array; categorical: BigInt64Array; denseInput: number } {
  const seen = new Map<string, number>();
  req.inputs.forEach((t, i) => {
    if (!(t.name in INPUTS))
      throw invalidArgument(`inputs[${i}].name`, `unknown input "${t.name}"; expected dense, categorical`);
    if (seen.has(t.name)) throw invalidArgument(`inputs[${i}].name`, `input "${t.name}" given twice`);
    seen.set(t.name, i);
  });
  for (const name of Object.keys(INPUTS)) {
    if (!seen.has(name)) throw invalidArgument('inputs', `missing input "${name}"`);
  }
  req.outputs?.forEach((o, i) => {
    if (o.name !== 'query')
      throw invalidArgument(`outputs[${i}].name`, `unknown output "${o.name}"; this model has query`);
  });
  const di = seen.get('dense')!;
  const ci = seen.get('categorical')!;
  const d = req.inputs[di]!;
  const c = req.inputs[ci]!;
  const check = (t: typeof d, i: number, datatype: string, width: number): number => {
    if (t.datatype !== datatype)
      throw invalidArgument(
        `inputs[${i}].datatype`,
        `input "${t.name}" must be ${datatype}, got ${t.datatype}`,
      );
    if (t.shape.length !== 2 || t.shape[1] !== width) {
      throw invalidArgument(
        `inputs[${i}].shape`,
        `input "${t.name}" must have shape [batch, ${width}], got [${t.shape.join(', ')}]`,
      );
    }
    if (t.shape[0]! < 1) throw invalidArgument(`inputs[${i}].shape`, 'batch must be at least 1');
    return t.shape[0]!;
  };
  const rows = check(d, di, 'FP32', v.numDense);
  if (check(c, ci, 'INT64', v.numCategorical) !== rows) {
    throw invalidArgument(
      `inputs[${ci}].shape`,
      `batch ${c.shape[0]} differs from input "dense" batch ${rows}`,
    );
  }
  const dense = binary[di]
    ? denseFromBytes(binary[di], di)
    : denseFromJson(d.data!, di, rows * v.numDense, d.shape);
  const categorical = binary[ci]
    ? fromBytes(binary[ci], (b) => new BigInt64Array(b))
    : categoricalFromJson(c.data!, ci, rows * v.numCategorical, c.shape);
  return { rows, dense, categorical, denseInput: di };
}

function denseFromBytes(bytes: Buffer, i: number): Float32Array {
  const dense = fromBytes(bytes, (b) => new Float32Array(b));
  for (let k = 0; k < dense.length; k++) {
    if (!Number.isFinite(dense[k]!))
      throw invalidArgument(`inputs[${i}]`, `element ${k} of the binary data is not a finite float32 number`);
  }
  return dense;
}

function denseFromJson(data: unknown[], i: number, count: number, shape: number[]): Float32Array {
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

function categoricalFromJson(data: unknown[], i: number, count: number, shape: number[]): BigInt64Array {
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
