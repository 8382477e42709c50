// The HTTP layer (Fastify), built apart from listen() so tests can drive it in-process with
// inject() or over a real socket. Routes are thin: they pick the codec for the request
// (codecs/) and hand the body to `dataplane.score` with it; bodies are read and written by
// http-body.ts (content codings, charsets, JSON); every error goes through the one handler that maps the error
// catalogue to HTTP statuses and counts it.
//
// Routes:
//   GET  /v2                              OIP server metadata
//   GET  /v2/health/live, /v2/health/ready
//   GET  /v2/models/:name                 OIP model metadata (the query tower)
//   GET  /v2/models/:name/ready
//   POST /v2/models/:name/infer           OIP infer: dense + categorical → query [B, tasks, dim]
//                                         (JSON, or the binary tensor extension of oip-binary.ts
//                                         when the Inference-Header-Content-Length header is sent)
//   (the same three under /v2/models/:name/versions/:version, for the version serving)
//   POST /v1/models/:name/rank            ranking: query features + candidate ids → per-task scores
//                                         (JSON, or the binary encoding of binary.ts by content type)
//   GET  /metrics                         Prometheus
// Scoring is reachable only through /v1/.../rank: OIP's tensor-in/tensor-out shape fits the
// query tower, while ranking needs id lookup and reports unknown ids (see server/README.md).
//
// API: buildApp({ registry, dataplane, metrics, log, bodyLimitBytes, responseCompression? }) → FastifyInstance
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../lib/logger.js';
import { RANK_BINARY_TYPE } from './binary.js';
import { createRestCodecs } from './codecs/index.js';
import { readRankJsonBody } from './codecs/rank-json-body.js';
import type { Dataplane } from './dataplane.js';
import { ServeError, invalidArgument, modelNotReady, toServeError, unsupportedMediaType } from './errors.js';
import {
  chooseResponseEncoding,
  compress,
  decodeContentEncoding,
  decodeJsonText,
  parseJson,
} from './http-body.js';
import type { ModelRegistry } from './lifecycle/registry.js';
import type { ServerMetrics } from './metrics.js';
import { BinaryInferResponse, INFERENCE_HEADER_LENGTH, OIP_BINARY_TYPE } from './oip-binary.js';

export const SERVER_NAME = 'lightrank';
export const SERVER_VERSION = '0.1.0';
/** The OIP extensions in server metadata (REST and gRPC). */
export const SERVER_EXTENSIONS = ['binary_tensor_data'];

export interface AppDeps {
  registry: ModelRegistry;
  dataplane: Dataplane;
  metrics: ServerMetrics;
  log: Logger;
  bodyLimitBytes: number;
  /** compress responses when Accept-Encoding asks (default true) */
  responseCompression?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    endpoint?: string;
  }
  interface FastifyRequest {
    startedAt: bigint;
  }
}

type ModelParams = { Params: { name: string; version?: string } };

export type App = ReturnType<typeof buildApp>;

export function buildApp(deps: AppDeps) {
  const { registry, dataplane, metrics } = deps;
  const codecs = createRestCodecs(dataplane.limits);
  const app = Fastify({
    loggerInstance: deps.log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimitBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // model names are up to 128 characters (config.ts); longer path parameters are refused below
    routerOptions: { maxParamLength: 256 },
    // a path Fastify cannot route (bad percent-encoding, a parameter too long) answers in the
    // error format like every other error
    frameworkErrors: (err, req, reply) => {
      const path = req.url.split('?')[0];
      const e =
        err.code === 'FST_ERR_BAD_URL'
          ? invalidArgument('path', `"${path}" is not a valid URL path (bad percent-encoding)`)
          : invalidArgument('path', `"${path}": ${err.message}`);
      sendError(e, reply);
    },
  });
  // JSON by our own parser: the charset is honoured (UTF-8 or UTF-16; others 415) and a
  // `__proto__` key is refused by name (http-body.ts). Without Fastify's default text/plain
  // parser, other media types get 415.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  // The ranking endpoint's body has its candidate ids read straight from the bytes
  // (codecs/rank-json-body.ts: the same result, without a string per id).
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    if ((body as Buffer).length === 0)
      return done(new ServeError('MALFORMED_JSON', 'request body is empty; send a JSON object'));
    try {
      const contentType = req.headers['content-type'];
      done(
        null,
        req.routeOptions.config.endpoint === 'rank'
          ? readRankJsonBody(body as Buffer, contentType, dataplane.limits)
          : parseJson(decodeJsonText(body as Buffer, contentType)),
      );
    } catch (err) {
      done(err as Error);
    }
  });
  // The ranking endpoint's binary encoding (binary.ts): the body is handed on as one Buffer.
  app.addContentTypeParser(RANK_BINARY_TYPE, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // The OIP binary tensor extension: taken as one Buffer on the infer routes when the request
  // carries its header (whose hook below routes any content type here); refused elsewhere.
  app.addContentTypeParser(OIP_BINARY_TYPE, { parseAs: 'buffer' }, (req, body, done) =>
    binaryInfer(req) ? done(null, body) : done(unsupportedMediaType(OIP_BINARY_TYPE)),
  );
  app.decorateRequest('startedAt', 0n);

  // The hooks below take `done` rather than returning promises: each runs on every request, and
  // an async hook costs a promise and a microtask turn apiece (bench/RESULTS.md, 2026-12-06, last).
  app.addHook('onRequest', (req, _reply, done) => {
    req.startedAt = process.hrtime.bigint();
    // A body without a Content-Type is JSON, as Triton reads it (some OIP clients send none);
    // the infer route's own hook below makes it the binary extension when its header is sent.
    const h = req.headers;
    if (
      h['content-type'] === undefined &&
      (h['transfer-encoding'] !== undefined ||
        (h['content-length'] !== undefined && h['content-length'] !== '0'))
    )
      h['content-type'] = 'application/json';
    done();
  });
  // Content-Encoding: gzip | deflate on request bodies, decompressed within the body limit.
  app.addHook('preParsing', (req, _reply, payload, done) => {
    const coding = req.headers['content-encoding'];
    if (coding === undefined || req.method !== 'POST') return done(null, payload);
    try {
      done(null, decodeContentEncoding(coding, payload, deps.bodyLimitBytes));
    } catch (err) {
      done(err as Error);
    }
  });
  // Accept-Encoding: the response compressed when the client asks (Triton does the same; the
  // Inference-Header-Content-Length of a binary response counts the uncompressed JSON).
  app.addHook('onSend', (req, reply, payload, done) => {
    if (
      deps.responseCompression === false ||
      payload === null ||
      payload === undefined ||
      (typeof payload !== 'string' && !Buffer.isBuffer(payload))
    )
      return done(null, payload);
    void reply.header('vary', 'accept-encoding');
    const coding = chooseResponseEncoding(req.headers['accept-encoding']);
    if (coding === undefined || reply.hasHeader('content-encoding')) return done(null, payload);
    void reply.header('content-encoding', coding);
    compress(coding, payload).then(
      (body) => done(null, body),
      (err: Error) => done(err),
    );
  });
  app.addHook('onResponse', (req, reply, done) => {
    const endpoint = req.routeOptions.config.endpoint ?? 'unknown';
    metrics.observeRequest(endpoint, reply.statusCode, Number(process.hrtime.bigint() - req.startedAt) / 1e9);
    done();
  });

  const sendError = (e: ServeError, reply: FastifyReply): void => {
    metrics.error(e.code);
    void reply.status(e.status).send(e.toBody());
  };
  app.setErrorHandler((err, req, reply) => {
    const e = toServeError(err);
    if (e.code === 'INTERNAL' || e.code === 'INFERENCE_FAILED')
      req.log.error({ err, code: e.code }, e.message);
    sendError(e, reply);
  });
  app.setNotFoundHandler((req, reply) => {
    sendError(new ServeError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`), reply);
  });

  const route = (endpoint: string) => ({ config: { endpoint } });
  const binaryInfer = (req: FastifyRequest): boolean =>
    req.routeOptions.config.endpoint === 'infer' && req.headers[INFERENCE_HEADER_LENGTH] !== undefined;
  // Triton clients send binary bodies as application/octet-stream or with no type; the header,
  // not the type, says the body is binary.
  const inferRoute = {
    ...route('infer'),
    onRequest: (req: FastifyRequest, _reply: FastifyReply, done: () => void) => {
      if (binaryInfer(req)) req.headers['content-type'] = OIP_BINARY_TYPE;
      done();
    },
  };
  const checkVersion = (p: { name: string; version?: string }): void => {
    if (p.version === undefined) return;
    const serving = registry.peek(p.name)?.model.version;
    if (serving !== p.version) {
      throw new ServeError(
        'MODEL_NOT_FOUND',
        `model "${p.name}" version "${p.version}" is not served here (serving: ${serving ?? 'none'})`,
      );
    }
  };

  app.get('/v2', route('server_metadata'), async () => ({
    name: SERVER_NAME,
    version: SERVER_VERSION,
    extensions: SERVER_EXTENSIONS,
  }));
  app.get('/v2/health/live', route('server_live'), async () => ({ live: true }));
  app.get('/v2/health/ready', route('server_ready'), async (_req, reply) => {
    const ready = registry.ready;
    return reply.status(ready ? 200 : 503).send({ ready });
  });
  // OIP paths with and without /versions/{version}; a version must be the one serving.
  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get<ModelParams>(prefix, route('model_metadata'), async (req) => {
      checkVersion(req.params);
      return dataplane.metadata(req.params.name);
    });
    app.get<ModelParams>(`${prefix}/ready`, route('model_ready'), async (req, reply) => {
      checkVersion(req.params);
      if (!dataplane.modelReady(req.params.name)) throw modelNotReady(req.params.name);
      return reply.send({ name: req.params.name, ready: true });
    });
    app.post<ModelParams>(`${prefix}/infer`, inferRoute, async (req, reply) => {
      checkVersion(req.params);
      const header = req.headers[INFERENCE_HEADER_LENGTH];
      const res =
        header === undefined
          ? await dataplane.score(req.params.name, codecs.oipJson, req.body)
          : await dataplane.score(req.params.name, codecs.oipBinary, {
              body: req.body,
              headerLength: String(header),
            });
      if (!(res instanceof BinaryInferResponse)) return res;
      return reply.type(OIP_BINARY_TYPE).header(INFERENCE_HEADER_LENGTH, res.headerLength).send(res.body);
    });
  }
  // Not async, and the body taken off the request: nothing keeps the parsed JSON (2,000 id
  // strings) alive while the request waits for its batch, so it dies young (a scavenge copies
  // whatever is in flight, and what survives two is promoted and needs a Mark-Compact).
  app.post<ModelParams>('/v1/models/:name/rank', route('rank'), (req, reply) => {
    const body = req.body;
    req.body = undefined;
    return Buffer.isBuffer(body)
      ? dataplane
          .score(req.params.name, codecs.rankBinary, body)
          .then((out) => reply.type(RANK_BINARY_TYPE).send(out))
      : dataplane
          .score(req.params.name, codecs.rankJson, body)
          .then((out) => reply.type('application/json').send(out));
  });
  app.get('/metrics', route('metrics'), async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
  return app;
}
