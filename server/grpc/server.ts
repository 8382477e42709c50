// The gRPC server, on its own port (--grpc-port), sharing the dataplane with REST:
//   inference.GRPCInferenceService (proto/grpc_predict_v2.proto, OIP v2): ServerLive,
//     ServerReady, ModelReady, ServerMetadata, ModelMetadata, ModelInfer
//   lightrank.v1.Ranking (proto/lightrank_ranking.proto): Rank
// The protos are loaded at start by @grpc/proto-loader (no generated code; `npm run build`
// copies them next to this module in dist/). Errors are the catalogue's (errors.ts), mapped to
// gRPC status codes; the catalogue code and field travel in the trailing metadata
// (`lightrank-code`, `lightrank-field`). Metrics are the REST ones: requests_total and
// request_duration_seconds with endpoint `grpc_<method>` and the HTTP status the error has in
// REST (200 when OK), errors_total by catalogue code.
//
// API:
//   startGrpcServer({ host, port, dataplane, registry, metrics, log, maxMessageBytes }) → Promise<GrpcServer>
//   GrpcServer: { port, stop(drainMs) → Promise<void> }
//   loadProtos() → the loaded package definition (for clients: tests, the bench)
//   GRPC_STATUS: catalogue code → gRPC status
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Logger } from '../../lib/logger.js';
import { SERVER_EXTENSIONS, SERVER_NAME, SERVER_VERSION } from '../app.js';
import { grpcInferCodec, type ModelInferRequest } from '../codecs/grpc-oip.js';
import { grpcRankCodec, type GrpcRankRequest } from '../codecs/grpc-rank.js';
import type { Dataplane } from '../dataplane.js';
import { ServeError, invalidArgument, toServeError, type ErrorCode } from '../errors.js';
import type { ModelRegistry } from '../lifecycle/registry.js';
import type { ServerMetrics } from '../metrics.js';

export const PROTO_FILES = ['grpc_predict_v2.proto', 'lightrank_ranking.proto'].map((f) =>
  fileURLToPath(new URL(`./proto/${f}`, import.meta.url)),
);

/** How proto-loader presents messages: field names as in the .proto, 64-bit integers as strings. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

export function loadProtos(): grpc.GrpcObject {
  return grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS));
}

export const GRPC_STATUS: Record<ErrorCode, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  MALFORMED_JSON: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  MODEL_NOT_FOUND: grpc.status.NOT_FOUND,
  METHOD_NOT_ALLOWED: grpc.status.UNIMPLEMENTED,
  PAYLOAD_TOO_LARGE: grpc.status.RESOURCE_EXHAUSTED,
  UNSUPPORTED_MEDIA_TYPE: grpc.status.INVALID_ARGUMENT,
  INFERENCE_FAILED: grpc.status.INTERNAL,
  INTERNAL: grpc.status.INTERNAL,
  MODEL_NOT_READY: grpc.status.UNAVAILABLE,
  OVERLOADED: grpc.status.UNAVAILABLE,
  SHUTTING_DOWN: grpc.status.UNAVAILABLE,
};

export interface GrpcServerDeps {
  host: string;
  port: number;
  dataplane: Dataplane;
  registry: ModelRegistry;
  metrics: ServerMetrics;
  log: Logger;
  maxMessageBytes: number;
}

export interface GrpcServer {
  port: number;
  stop(drainMs: number): Promise<void>;
}

const MAX_DETAILS = 2048;
const clip = (s: string, n: number): string =>
  s.length <= n ? s : `${s.slice(0, n)}… (${s.length - n} more characters)`;

type Service = grpc.GrpcObject & { service: grpc.ServiceDefinition };

/** A request whose bytes are not the method's message: refused as the client's (grpc-js would say INTERNAL). */
class MalformedMessage {
  constructor(readonly message: string) {}
}

/** The service with deserializers that never throw: bytes that do not decode become a MalformedMessage. */
function tolerant(def: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(def)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new MalformedMessage(
            `the request is not a valid ${name} request message: ${(err as Error).message}`,
          );
        }
      },
    };
  }
  return out;
}

export async function startGrpcServer(deps: GrpcServerDeps): Promise<GrpcServer> {
  const { dataplane, registry, metrics, log } = deps;
  const pkg = loadProtos() as unknown as {
    inference: { GRPCInferenceService: Service };
    lightrank: { v1: { Ranking: Service } };
  };
  const inferCodec = grpcInferCodec(dataplane.limits);
  const rankCodec = grpcRankCodec(dataplane.limits);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': deps.maxMessageBytes,
    'grpc.max_send_message_length': -1,
  });

  const versionMatches = (name: string, version: string): void => {
    if (version === '') return;
    const serving = registry.peek(name)?.model.version;
    if (serving !== version)
      throw new ServeError(
        'MODEL_NOT_FOUND',
        `model "${name}" version "${version}" is not served here (serving: ${serving ?? 'none'})`,
      );
  };

  /** One unary method: the answer or the error, both counted like REST's. */
  function unary<Req, Res>(
    endpoint: string,
    fn: (req: Req) => Res | Promise<Res>,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const started = process.hrtime.bigint();
      const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
      Promise.resolve()
        .then(() => {
          if (call.request instanceof MalformedMessage) throw invalidArgument('', call.request.message);
          return fn(call.request);
        })
        .then(
          (res) => {
            metrics.observeRequest(endpoint, 200, seconds());
            callback(null, res);
          },
          (err: unknown) => {
            const e = toServeError(err);
            metrics.error(e.code);
            metrics.observeRequest(endpoint, e.status, seconds());
            if (e.code === 'INTERNAL' || e.code === 'INFERENCE_FAILED')
              log.error({ err, code: e.code, endpoint }, e.message);
            // Details and trailers are HTTP/2 headers: a message quoting a huge client value (a
            // 100 KB model name) would not fit them, and the call would never end.
            const trailer = new grpc.Metadata();
            trailer.set('lightrank-code', e.code);
            if (e.field !== undefined) trailer.set('lightrank-field', clip(e.field, 256));
            callback({ code: GRPC_STATUS[e.code], details: clip(e.message, MAX_DETAILS), metadata: trailer });
          },
        );
    };
  }

  server.addService(tolerant(pkg.inference.GRPCInferenceService.service), {
    ServerLive: unary('grpc_server_live', () => ({ live: true })),
    ServerReady: unary('grpc_server_ready', () => ({ ready: registry.ready })),
    ModelReady: unary('grpc_model_ready', (req: { name: string; version: string }) => {
      versionMatches(req.name, req.version);
      return { ready: dataplane.modelReady(req.name) };
    }),
    ServerMetadata: unary('grpc_server_metadata', () => ({
      name: SERVER_NAME,
      version: SERVER_VERSION,
      extensions: SERVER_EXTENSIONS,
    })),
    ModelMetadata: unary('grpc_model_metadata', (req: { name: string; version: string }) => {
      versionMatches(req.name, req.version);
      const m = dataplane.metadata(req.name);
      return {
        name: m.name,
        versions: m.versions,
        platform: m.platform,
        inputs: m.inputs,
        outputs: m.outputs,
      };
    }),
    ModelInfer: unary('grpc_model_infer', (req: ModelInferRequest) => {
      versionMatches(req.model_name, req.model_version);
      return dataplane.score(req.model_name, inferCodec, req);
    }),
  });
  server.addService(tolerant(pkg.lightrank.v1.Ranking.service), {
    Rank: unary('grpc_rank', (req: GrpcRankRequest) => dataplane.score(req.model_name, rankCodec, req)),
  });

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${deps.host}:${deps.port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    stop: (drainMs) =>
      new Promise<void>((resolve) => {
        // in-flight calls finish (bounded by the drain timeout); new ones are refused
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, drainMs).unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
