// Ranking request bodies for the server benchmarks that drive vegeta (server-ab, server-tail):
// 16 distinct queries (seeded features) each over `candidates` ids of the served snapshot, in the
// rank binary encoding or JSON, and the Content-Type that goes with them.
import { generateFeatures } from '../../modelkit/catalogue.js';
import { RANK_BINARY_TYPE, encodeRankBinaryRequest } from '../../server/binary.js';

export function rankBodies(
  ids: BigUint64Array,
  candidates: number,
  encoding: string | undefined,
): { bodies: Buffer[]; contentType: string } {
  const { dense, categorical } = generateFeatures({ numDense: 16, numCategorical: 4 }, 16, 9);
  const bodies = Array.from({ length: 16 }, (_, b) => {
    const picked = BigUint64Array.from(
      { length: candidates },
      (_, i) => ids[(i * 7919 + b * 101) % ids.length]!,
    );
    const d = dense.slice(b * 16, b * 16 + 16);
    const c = categorical.slice(b * 4, b * 4 + 4);
    return encoding === 'binary'
      ? encodeRankBinaryRequest(d, c, picked)
      : Buffer.from(
          JSON.stringify({
            query: { dense: Array.from(d), categorical: Array.from(c, Number) },
            candidates: Array.from(picked, String),
          }),
        );
  });
  return { bodies, contentType: encoding === 'binary' ? RANK_BINARY_TYPE : 'application/json' };
}
