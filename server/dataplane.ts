// The dataplane: one `score()` for every protocol. It never touches a wire format: a codec
// (server/codecs/: rank JSON, rank binary, OIP REST JSON and binary, gRPC OIP and ranking)
// parses the wire form (its own checks: schema, encoding), binds it to the loaded model (checks
// against its widths, tasks and inputs) into one `ScoreRequest`, and encodes the one
// `ScoreResult`. Between the two the dataplane checks the dense features' magnitude, looks the
// candidate ids up in the snapshot, runs the query tower (and the scoring graph for ranking)
// through the version's batcher, refuses non-finite outputs as the features' fault, and records
// the metrics. Everything a request can get wrong is found before it can join a batch shared
// with others; a request holds the version it started on until it has answered.
//
// API:
//   new Dataplane(registry, metrics, limits)
//   dataplane.score(modelName, codec, wire) → Promise<codec's output>
//   dataplane.metadata(modelName) → ModelMetadata;  dataplane.modelReady(modelName) → boolean
//   interface Codec<W, P, T> { parse(wire: W): P; bind(p, model: ModelSignature): ScoreRequest;
//                              encode(p, result: ScoreResult): T }
import { invalidArgument, modelNotReady } from './errors.js';
import type { ModelRegistry } from './lifecycle/registry.js';
import type { ServedVersion } from './lifecycle/version.js';
import type { ServerMetrics, Stage } from './metrics.js';

export interface DataplaneLimits {
  maxCandidates: number;
  maxInferRows: number;
  /** largest |x| of a dense feature (beyond it the towers can overflow float32) */
  maxDenseAbs: number;
}

/** What a codec checks a request against: the served model's inputs and outputs. */
export interface ModelSignature {
  name: string;
  numDense: number;
  numCategorical: number;
  tasks: readonly string[];
  dim: number;
}

/** What every protocol decodes to. */
export interface ScoreRequest {
  /** rows of query features: 1 for ranking, the batch for OIP infer */
  rows: number;
  /** rows × numDense */
  dense: Float32Array;
  /** rows × numCategorical */
  categorical: BigInt64Array;
  /** ranking (one row): the candidate ids to score; absent: the query tower only */
  candidates?: BigUint64Array;
  /** how errors name dense feature i (e.g. `query.dense[3]`, `inputs[0]`) */
  denseField(i: number): string;
  /** how errors name the dense input as a whole (e.g. `query.dense`, `inputs[0]`) */
  denseInput: string;
  /** a tensor of rows (OIP): errors name an element by index, row and column, an output by row */
  batch?: boolean;
}

/** What every protocol encodes from. */
export interface ScoreResult {
  model: string;
  modelVersion: string;
  snapshotVersion: string;
  tasks: readonly string[];
  dim: number;
  rows: number;
  /** query tower requests: [rows, tasks, dim] */
  query?: Float32Array;
  /** ranking: per candidate, its snapshot row (< 0: unknown id, not scored) */
  present?: Int32Array;
  /** ranking: how many candidates are known */
  knownCount: number;
  /** ranking: [tasks][knownCount] task-major, the known candidates in request order */
  scores?: Float32Array;
}

/** One protocol's wire form of a request (W) and response (T), through its parsed form (P). */
export interface Codec<W, P, T> {
  /** the wire form → the protocol's request, checked for everything that needs no model */
  parse(wire: W): P;
  /** the protocol's request against the loaded model → the score request */
  bind(p: P, model: ModelSignature): ScoreRequest;
  /** the result → the wire form */
  encode(p: P, result: ScoreResult): T;
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
  parameters: Record<string, unknown>;
}

export class Dataplane {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly metrics: ServerMetrics,
    readonly limits: DataplaneLimits,
  ) {}

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

  /** The version serving `name` now, as codecs see it (undefined: none loaded yet). */
  signature(name: string): ModelSignature | undefined {
    const v = this.registry.peek(name);
    return v && signatureOf(this.registry.name, v);
  }

  /**
   * One request, any protocol: parse (no model needed, so a malformed request is refused before
   * the model is asked for), acquire the version, bind, check, infer, encode, release.
   */
  score<W, P, T>(name: string, codec: Codec<W, P, T>, wire: W): Promise<T> {
    const t = process.hrtime.bigint();
    let parsed: P;
    try {
      parsed = codec.parse(wire);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    // The wire form (e.g. a parsed JSON body's id strings) is not held across the awaits below.
    return this.scoreParsed(name, codec, parsed, t);
  }

  private async scoreParsed<P, T>(
    name: string,
    codec: Codec<unknown, P, T>,
    parsed: P,
    started: bigint,
  ): Promise<T> {
    let t = started;
    const v = this.registry.acquire(name);
    try {
      const req = codec.bind(parsed, signatureOf(this.registry.name, v));
      if (
        req.dense.length !== req.rows * v.numDense ||
        req.categorical.length !== req.rows * v.numCategorical
      )
        throw new Error(
          `codec bound ${req.dense.length} dense / ${req.categorical.length} categorical for ${req.rows} rows`,
        );
      const largest = checkDenseMagnitude(req, this.limits.maxDenseAbs, v.numDense);
      const result: ScoreResult = {
        model: this.registry.name,
        modelVersion: v.model.version,
        snapshotVersion: v.snapshot.version,
        tasks: v.tasks,
        dim: v.dim,
        rows: req.rows,
        knownCount: 0,
      };
      let known: Int32Array | undefined;
      if (req.candidates) {
        const present = v.lookup(req.candidates);
        // the known rows in request order, in one pass (most ids are known: trim the rest)
        const rows = new Int32Array(present.length);
        let k = 0;
        for (let i = 0; i < present.length; i++) {
          const row = present[i]!;
          if (row >= 0) rows[k++] = row;
        }
        known = k === rows.length ? rows : rows.slice(0, k);
        result.present = present;
        result.knownCount = k;
      }
      t = this.stage('decode', t);
      const wantQuery = req.candidates === undefined;
      if (wantQuery || result.knownCount > 0) {
        const r = await v.batcher.submit({
          rows: req.rows,
          dense: req.dense,
          categorical: req.categorical,
          wantQuery,
          ...(known ? { indices: known } : {}),
        });
        this.metrics.observeStage('queue', r.queueSeconds);
        this.metrics.observeStage('query_tower', r.queryTowerSeconds);
        if (wantQuery) {
          requireFinite(r.query!, largest, req, this.limits.maxDenseAbs, v.tasks.length * v.dim);
          result.query = r.query!;
        } else {
          this.metrics.observeStage('scoring', r.scoringSeconds);
          requireFinite(r.scores!, largest, req, this.limits.maxDenseAbs);
          result.scores = r.scores!;
        }
        t = process.hrtime.bigint();
      }
      if (req.candidates) {
        const k = result.knownCount;
        const scores = result.scores ?? new Float32Array(0);
        v.tasks.forEach((task, ti) =>
          this.metrics.observeScores(task, scores.subarray(ti * k, (ti + 1) * k)),
        );
        this.metrics.scored(k, req.candidates.length - k);
      }
      const out = codec.encode(parsed, result);
      this.stage('encode', t);
      return out;
    } finally {
      v.release();
    }
  }
}

function signatureOf(name: string, v: ServedVersion): ModelSignature {
  return { name, numDense: v.numDense, numCategorical: v.numCategorical, tasks: v.tasks, dim: v.dim };
}

/**
 * Refuses dense features that are not finite or larger than `limit` in magnitude, naming the
 * feature (and for a batch its row and column) and the limit. Returns each row's largest |x|
 * (for requireFinite's message: the arrays themselves go to a worker, transferred).
 */
function checkDenseMagnitude(req: ScoreRequest, limit: number, width: number): Float64Array {
  const { dense } = req;
  const largest = new Float64Array(req.rows);
  for (let i = 0; i < dense.length; i++) {
    const x = Math.abs(dense[i]!);
    const row = Math.floor(i / width);
    if (!(x <= limit)) {
      const where = req.batch ? `element ${i} (row ${row}, column ${i % width}) ` : '';
      throw invalidArgument(
        req.denseField(i),
        Number.isFinite(x)
          ? `${where}|x| = ${x.toExponential(3)} exceeds the dense feature limit ${limit.toExponential(0)} ` +
              '(--max-dense-abs): features this large overflow the towers'
          : `${where}expected a finite float32 number`,
      );
    }
    if (x > largest[row]!) largest[row] = x;
  }
  return largest;
}

/**
 * Non-finite model outputs for features within the limit: the features are outside what this
 * model can compute in float32 (a version is only served after producing finite output for a
 * plain query, lifecycle/version.ts), so the request is refused as the client's, with a 400
 * naming the input, the row of a batch (rows are independent) and the limit — never sent as
 * JSON nulls, which would read like unknown ids. `rowSize`: output values per input row;
 * without it the output is one row's.
 */
function requireFinite(
  values: Float32Array,
  largest: Float64Array,
  req: ScoreRequest,
  limit: number,
  rowSize?: number,
): void {
  // x − x is 0 for a finite x and NaN for ±Infinity or NaN: one subtraction and compare per value
  let bad = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    bad += x - x === 0 ? 0 : 1;
  }
  if (bad === 0) return;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      const row = rowSize ? Math.floor(i / rowSize) : 0;
      throw invalidArgument(
        req.denseInput,
        `${req.batch ? `row ${row}: ` : ''}the model's output is not finite for these features ` +
          `(largest |x| = ${largest[row]!.toExponential(3)}, within the limit ${limit.toExponential(0)} of ` +
          '--max-dense-abs): they are outside the range this model computes in float32; send smaller (normalised) features',
      );
    }
  }
}
