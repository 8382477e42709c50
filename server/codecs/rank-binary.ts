// The ranking endpoint in its binary encoding (POST /v1/models/{name}/rank with content type
// application/vnd.lightrank.rank.v1+binary; layouts in binary.ts): raw tensors in, all the
// model's tasks' scores out (NaN where the id is unknown) with the unknown positions.
//
// API: rankBinaryCodec(limits) → Codec<Buffer, BinaryRankRequest, Buffer>
import { decodeRankBinary, encodeRankBinary, type BinaryRankRequest } from '../binary.js';
import type { Codec } from '../dataplane.js';
import { invalidArgument } from '../errors.js';

export function rankBinaryCodec(limits: { maxCandidates: number }): Codec<Buffer, BinaryRankRequest, Buffer> {
  return {
    parse: (body) => decodeRankBinary(body, limits),

    bind(req, model) {
      if (req.dense.length !== model.numDense)
        throw invalidArgument('numDense', `expected ${model.numDense}, got ${req.dense.length}`);
      if (req.categorical.length !== model.numCategorical)
        throw invalidArgument(
          'numCategorical',
          `expected ${model.numCategorical}, got ${req.categorical.length}`,
        );
      return {
        rows: 1,
        dense: req.dense,
        categorical: req.categorical,
        candidates: req.ids,
        denseField: (i) => `query.dense[${i}]`,
        denseInput: 'query.dense',
      };
    },

    encode(req, r) {
      const present = r.present!;
      const unknownPositions = new Uint32Array(present.length - r.knownCount);
      for (let i = 0, u = 0; i < present.length; i++) if (present[i]! < 0) unknownPositions[u++] = i;
      return encodeRankBinary({
        model: r.model,
        modelVersion: r.modelVersion,
        snapshotVersion: r.snapshotVersion,
        tasks: [...r.tasks],
        numCandidates: present.length,
        known: r.scores ?? new Float32Array(0),
        present,
        unknownPositions,
      });
    },
  };
}
