// The ranking endpoint in JSON (POST /v1/models/{name}/rank, application/json): the body
// parsed by the request schema (schemas.ts: ids checked and parsed in one pass), bound to the
// model (feature widths, int64 categoricals, task names), and answered by encode.ts (scores
// aligned with the candidates, null for unknown ids, or the top K per task).
//
// API: rankJsonCodec(limits) → Codec<unknown (the parsed JSON body), RankRequest, Buffer>
import type { Codec } from '../dataplane.js';
import { encodeRankResponse, type EncodableRankResponse } from '../encode.js';
import { invalidArgument } from '../errors.js';
import { parseInt64, rankRequestSchema, type RankRequest } from '../schemas.js';
import { parseOrThrow } from './parse.js';
import { knownPositions, taskIndices, topIndices } from './top-k.js';

export function rankJsonCodec(limits: { maxCandidates: number }): Codec<unknown, RankRequest, Buffer> {
  const schema = rankRequestSchema(limits);
  return {
    parse: (body) => parseOrThrow<RankRequest>(schema, body),

    bind(req, model) {
      const { dense, categorical } = req.query;
      if (dense.length !== model.numDense)
        throw invalidArgument('query.dense', `expected ${model.numDense} numbers, got ${dense.length}`);
      if (categorical.length !== model.numCategorical)
        throw invalidArgument(
          'query.categorical',
          `expected ${model.numCategorical} integers, got ${categorical.length}`,
        );
      const cat = new BigInt64Array(categorical.length);
      for (let i = 0; i < categorical.length; i++) {
        const b = parseInt64(categorical[i]!);
        if (b === undefined)
          throw invalidArgument(`query.categorical[${i}]`, 'outside the signed 64-bit range');
        cat[i] = b;
      }
      taskIndices(req.tasks, model.tasks, (i) => `tasks[${i}]`, invalidArgument); // checked before scoring
      return {
        rows: 1,
        dense: Float32Array.from(dense),
        categorical: cat,
        candidates: req.candidates,
        denseField: (i) => `query.dense[${i}]`,
        denseInput: 'query.dense',
      };
    },

    encode(req, r) {
      const present = r.present!;
      const k = r.knownCount;
      const taskIdx = taskIndices(req.tasks, r.tasks, (i) => `tasks[${i}]`, invalidArgument);
      const tasks = taskIdx.map((i) => r.tasks[i]!);
      const perTask = taskIdx.map((ti) =>
        r.scores ? r.scores.subarray(ti * k, (ti + 1) * k) : new Float32Array(0),
      );
      const unknownIds: string[] = [];
      for (let i = 0; i < present.length; i++)
        if (present[i]! < 0) unknownIds.push(String(req.candidates[i]));
      const res: EncodableRankResponse = {
        model: r.model,
        modelVersion: r.modelVersion,
        snapshotVersion: r.snapshotVersion,
        tasks,
        unknownIds,
      };
      if (req.topK !== undefined) {
        const pos = knownPositions(present, k);
        res.topK = {};
        tasks.forEach((task, t) => {
          const s = perTask[t]!;
          res.topK![task] = topIndices(s, Math.min(req.topK!, k)).map((j) => ({
            id: String(req.candidates[pos[j]!]),
            score: s[j]!,
          }));
        });
      } else {
        res.scores = {};
        tasks.forEach((task, t) => (res.scores![task] = { values: perTask[t]!, present }));
      }
      return encodeRankResponse(res);
    },
  };
}
