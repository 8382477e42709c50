// Wires one scoring server from its configuration: metrics, registry, dataplane, HTTP app, the
// gRPC server (unless --grpc-port off) and the hot-reload poller; `start` listens on both ports
// and logs one "listening" line (`port`, `grpcPort`), `stop` shuts down gracefully (stop
// accepting, let in-flight requests finish up to the drain timeout, close the workers). Used by main.ts and by
// tests that want a whole server in-process.
//
// API:
//   createServer(config: ServerConfig & { dataDir: string }, log: Logger) → ScoringServer
//   server.app / .registry / .reloader / .metrics
//   server.start() → Promise<{ port: number; grpcPort: number | null }>;  server.stop() → Promise<void>
import type { Logger } from '../lib/logger.js';
import { buildApp, type App } from './app.js';
import type { ServerConfig } from './config.js';
import { Dataplane } from './dataplane.js';
import { startGrpcServer, type GrpcServer } from './grpc/server.js';
import { ModelRegistry } from './lifecycle/registry.js';
import { Reloader } from './lifecycle/reloader.js';
import { loadVersion } from './lifecycle/version.js';
import { createServerMetrics, type ServerMetrics } from './metrics.js';

export interface ScoringServer {
  app: App;
  registry: ModelRegistry;
  reloader: Reloader;
  metrics: ServerMetrics;
  start(): Promise<{ port: number; grpcPort: number | null }>;
  stop(): Promise<void>;
}

export function createServer(config: ServerConfig, log: Logger): ScoringServer {
  const metrics = createServerMetrics({
    model: config.modelName,
    segment: config.segment,
    track: config.track,
  });
  const registry = new ModelRegistry(config.modelName);
  const dataplane = new Dataplane(registry, metrics, config);
  const app = buildApp({
    registry,
    dataplane,
    metrics,
    log,
    bodyLimitBytes: config.bodyLimitBytes,
    responseCompression: config.responseCompression,
  });
  let warnedFallback = false;
  let grpc: GrpcServer | undefined;
  const reloader = new Reloader({
    dataDir: config.dataDir,
    registry,
    pollMs: config.reloadPollMs,
    log,
    metrics,
    load: async (src) => {
      const v = await loadVersion(src, {
        executionProvider: config.executionProvider,
        workers: config.workers,
        intraOpThreads: config.intraOpThreads,
        limits: config,
        log,
        onBatch: (rows) => metrics.observeBatch(rows),
      });
      if (v.fallbackReason && !warnedFallback) {
        warnedFallback = true;
        log.warn(
          { requested: 'cuda', using: 'cpu', reason: v.fallbackReason },
          'CUDA execution provider unavailable (its libraries could not be loaded); falling back to CPU',
        );
      }
      return v;
    },
  });

  return {
    app,
    registry,
    reloader,
    metrics,
    async start() {
      reloader.start();
      if (config.grpcPort !== null) {
        grpc = await startGrpcServer({
          host: config.host,
          port: config.grpcPort,
          dataplane,
          registry,
          metrics,
          log,
          maxMessageBytes: config.bodyLimitBytes,
        });
      }
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const grpcPort = grpc?.port ?? null;
      log.info({ port, grpcPort, model: config.modelName, dataDir: config.dataDir }, 'listening');
      return { port, grpcPort };
    },
    async stop() {
      reloader.stop();
      // Stop accepting; app.close() waits for in-flight requests (bounded by the drain timeout).
      const drained = Promise.all([app.close(), grpc?.stop(config.drainTimeoutMs)]).then(() => true);
      const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), config.drainTimeoutMs).unref());
      if (!(await Promise.race([drained, timeout])))
        log.warn({ drainTimeoutMs: config.drainTimeoutMs }, 'drain timed out');
      await registry.close();
    },
  };
}
