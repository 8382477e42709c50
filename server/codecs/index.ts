// Every protocol's codec, built once from the configured limits (app.ts). Each decodes its
// wire form to the dataplane's one ScoreRequest and encodes the one ScoreResult:
//   rankJson    POST /v1/models/{name}/rank, application/json              (rank-json.ts)
//   rankBinary  the same route, application/vnd.lightrank.rank.v1+binary   (rank-binary.ts)
//   oipJson     POST /v2/models/{name}/infer, JSON                         (oip-rest.ts)
//   oipBinary   the same route, the binary tensor data extension           (oip-rest.ts)
//   (gRPC: grpc-oip.ts for inference.GRPCInferenceService/ModelInfer, grpc-rank.ts for
//   lightrank.v1.Ranking/Rank; built by grpc/server.ts)
//
// API: createRestCodecs(limits) → { rankJson, rankBinary, oipJson, oipBinary }
import type { DataplaneLimits } from '../dataplane.js';
import { oipBinaryCodec, oipJsonCodec } from './oip-rest.js';
import { rankBinaryCodec } from './rank-binary.js';
import { rankJsonCodec } from './rank-json.js';

export function createRestCodecs(limits: DataplaneLimits) {
  return {
    rankJson: rankJsonCodec(limits),
    rankBinary: rankBinaryCodec(limits),
    oipJson: oipJsonCodec(limits),
    oipBinary: oipBinaryCodec(limits),
  };
}
export type RestCodecs = ReturnType<typeof createRestCodecs>;
