// The ranking call over gRPC: lightrank.v1.Ranking/Rank (grpc/proto/lightrank_ranking.proto),
// the same request and answer as the JSON ranking endpoint: features + candidate ids in; per
// task one score per candidate (NaN where the id is unknown, those ids listed) or the top K.
// 64-bit ids and categoricals arrive as decimal strings (proto-loader's longs: String).
//
// API: grpcRankCodec(limits) → Codec<GrpcRankRequest, GrpcRankParsed, GrpcRankResponse>
import type { Codec } from '../dataplane.js';
import { invalidArgument } from '../errors.js';
import { parseIds } from '../ids.js';
import { parseInt64 } from '../schemas.js';
import { knownPositions, taskIndices, topIndices } from './top-k.js';

export interface GrpcRankRequest {
  model_name: string;
  dense: number[];
  categorical: string[];
  candidates: string[];
  top_k: number;
  tasks: string[];
}

export interface GrpcRankResponse {
  model: string;
  model_version: string;
  snapshot_version: string;
  tasks: string[];
  scores: { task: string; scores: number[] }[];
  top_k: { task: string; ids: string[]; scores: number[] }[];
  unknown_ids: string[];
  unknown_positions: number[];
}

export interface GrpcRankParsed {
  msg: GrpcRankRequest;
  dense: Float32Array;
  categorical: BigInt64Array;
  candidates: BigUint64Array;
}

const MAX_FEATURES = 4096;

export function grpcRankCodec(limits: {
  maxCandidates: number;
}): Codec<GrpcRankRequest, GrpcRankParsed, GrpcRankResponse> {
  return {
    parse(msg) {
      if (msg.dense.length > MAX_FEATURES) throw invalidArgument('dense', `at most ${MAX_FEATURES} features`);
      if (msg.categorical.length > MAX_FEATURES)
        throw invalidArgument('categorical', `at most ${MAX_FEATURES} features`);
      if (msg.candidates.length < 1) throw invalidArgument('candidates', 'expected at least 1 candidate(s)');
      if (msg.candidates.length > limits.maxCandidates)
        throw invalidArgument('candidates', `at most ${limits.maxCandidates} candidates per request`);
      if (msg.top_k > limits.maxCandidates) throw invalidArgument('top_k', `at most ${limits.maxCandidates}`);
      if (msg.tasks.length > 64) throw invalidArgument('tasks', 'at most 64 tasks');
      if (new Set(msg.tasks).size !== msg.tasks.length)
        throw invalidArgument('tasks', 'task names must be unique');
      const categorical = new BigInt64Array(msg.categorical.length);
      msg.categorical.forEach((c, i) => {
        const b = parseInt64(c);
        if (b === undefined) throw invalidArgument(`categorical[${i}]`, 'outside the signed 64-bit range');
        categorical[i] = b;
      });
      const candidates = parseIds(msg.candidates);
      if (!(candidates instanceof BigUint64Array))
        throw invalidArgument(`candidates[${candidates.index}]`, candidates.message);
      return { msg, dense: Float32Array.from(msg.dense), categorical, candidates };
    },

    bind(p, model) {
      if (p.dense.length !== model.numDense)
        throw invalidArgument('dense', `expected ${model.numDense} numbers, got ${p.dense.length}`);
      if (p.categorical.length !== model.numCategorical)
        throw invalidArgument(
          'categorical',
          `expected ${model.numCategorical} integers, got ${p.categorical.length}`,
        );
      taskIndices(
        p.msg.tasks.length ? p.msg.tasks : undefined,
        model.tasks,
        (i) => `tasks[${i}]`,
        invalidArgument,
      );
      return {
        rows: 1,
        dense: p.dense,
        categorical: p.categorical,
        candidates: p.candidates,
        denseField: (i) => `dense[${i}]`,
        denseInput: 'dense',
      };
    },

    encode(p, r) {
      const present = r.present!;
      const k = r.knownCount;
      const taskIdx = taskIndices(
        p.msg.tasks.length ? p.msg.tasks : undefined,
        r.tasks,
        (i) => `tasks[${i}]`,
        invalidArgument,
      );
      const res: GrpcRankResponse = {
        model: r.model,
        model_version: r.modelVersion,
        snapshot_version: r.snapshotVersion,
        tasks: taskIdx.map((i) => r.tasks[i]!),
        scores: [],
        top_k: [],
        unknown_ids: [],
        unknown_positions: [],
      };
      for (let i = 0; i < present.length; i++) {
        if (present[i]! >= 0) continue;
        res.unknown_ids.push(String(p.candidates[i]));
        res.unknown_positions.push(i);
      }
      const perTask = (ti: number) =>
        r.scores ? r.scores.subarray(ti * k, (ti + 1) * k) : new Float32Array(0);
      if (p.msg.top_k > 0) {
        const pos = knownPositions(present, k);
        for (const ti of taskIdx) {
          const s = perTask(ti);
          const best = topIndices(s, Math.min(p.msg.top_k, k));
          res.top_k.push({
            task: r.tasks[ti]!,
            ids: best.map((j) => String(p.candidates[pos[j]!])),
            scores: best.map((j) => s[j]!),
          });
        }
      } else {
        for (const ti of taskIdx) {
          const s = perTask(ti);
          const aligned = new Array<number>(present.length);
          for (let i = 0, j = 0; i < present.length; i++) aligned[i] = present[i]! >= 0 ? s[j++]! : NaN;
          res.scores.push({ task: r.tasks[ti]!, scores: aligned });
        }
      }
      return res;
    },
  };
}
