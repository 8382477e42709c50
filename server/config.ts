// Server configuration through the shared reader (lib/config.ts): command-line flags win over
// environment variables (the names the operator sets are declared in api/pod-env.ts), which win
// over defaults. A bad value is refused naming the flag and the variable.
//
// API:
//   interface ServerConfig { ... }   (see SERVER_OPTIONS)
//   parseConfig(argv: string[], env: NodeJS.ProcessEnv): ServerConfig   throws ConfigError on bad input
//   CONFIG_HELP: string             the --help text
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { PodEnv } from '../api/pod-env.js';
import { SCORING_POD_OPTIONS } from '../lib/pod-options.js';
import { type ConfigOf, configHelp, option, readConfig, schemas } from '../lib/config.js';

const { int, port } = schemas;

export const SERVER_OPTIONS = {
  ...SCORING_POD_OPTIONS,
  demo: option({
    env: 'LIGHTRANK_DEMO',
    boolean: true,
    help: 'build and serve the model kit demo model and snapshot (default: when no data dir is given and the default one holds no model)',
    default: 'false',
    schema: schemas.bool(),
  }),
  modelName: option({
    env: PodEnv.ModelName,
    help: 'model name in the APIs',
    default: 'demo',
    schema: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, . _ - (at most 128)'),
  }),
  host: option({ env: PodEnv.Host, help: 'listen address', default: '0.0.0.0', schema: z.string().min(1) }),
  port: option({
    env: PodEnv.Port,
    help: 'listen port (0 = any free port)',
    default: '8080',
    schema: port(),
  }),
  grpcPort: option({
    env: PodEnv.GrpcPort,
    help: 'gRPC port (OIP inference.GRPCInferenceService and lightrank.v1.Ranking); off = no gRPC; 0 = any free port (the default when --port is 0)',
    default: '8001',
    schema: z.union([z.literal('off').transform(() => null), port()]),
  }),
  executionProvider: option({
    env: PodEnv.ExecutionProvider,
    help: 'cuda or cpu (cuda falls back to cpu with a warning)',
    default: 'cpu',
    schema: z.enum(['cuda', 'cpu']),
  }),
  workers: option({
    env: 'LIGHTRANK_WORKERS',
    help: 'inference worker threads per loaded version (default: 1 on cuda, cores/2 on cpu)',
    schema: int(1, 64).optional(),
  }),
  intraOpThreads: option({
    env: 'LIGHTRANK_INTRA_OP_THREADS',
    help: 'ONNX Runtime intra-op threads per worker',
    default: '1',
    schema: int(0, 64),
  }),
  maxBatchSize: option({
    env: PodEnv.MaxBatchSize,
    help: 'dynamic batching: most query rows per query-tower run (1 = off)',
    default: '32',
    schema: int(1, 4096),
  }),
  maxQueueDelayUs: option({
    env: PodEnv.MaxQueueDelayUs,
    help: 'dynamic batching: longest a request waits for others while a worker is idle',
    default: '0',
    schema: int(0, 1_000_000),
  }),
  maxQueueLength: option({
    env: 'LIGHTRANK_MAX_QUEUE_LENGTH',
    help: 'requests queued beyond this are refused with 503',
    default: '1024',
    schema: int(1),
  }),
  maxCandidates: option({
    env: 'LIGHTRANK_MAX_CANDIDATES',
    help: 'most candidate ids per ranking request',
    default: '10000',
    schema: int(1, 1_000_000),
  }),
  maxInferRows: option({
    env: 'LIGHTRANK_MAX_INFER_ROWS',
    help: 'most rows per OIP infer request',
    default: '256',
    schema: int(1, 65536),
  }),
  maxDenseAbs: option({
    env: 'LIGHTRANK_MAX_DENSE_ABS',
    help: 'largest |x| of a dense feature; larger ones are refused with 400 (the reference towers overflow float32 from ~1e14)',
    default: '1e12',
    schema: z.coerce.number().positive().max(3.4028234663852886e38),
  }),
  bodyLimitBytes: option({
    env: 'LIGHTRANK_BODY_LIMIT_BYTES',
    help: 'largest request body (decompressed), and gRPC message',
    default: '1048576',
    schema: int(1024),
  }),
  responseCompression: option({
    env: 'LIGHTRANK_RESPONSE_COMPRESSION',
    help: 'on: compress REST responses when Accept-Encoding asks for gzip or deflate (as Triton does; Go clients ask by default); off: never',
    default: 'on',
    schema: z.enum(['on', 'off']).transform((v) => v === 'on'),
  }),
  reloadPollMs: option({
    env: 'LIGHTRANK_RELOAD_POLL_MS',
    help: 'how often the current pointers are read',
    default: '1000',
    schema: int(10),
  }),
  drainTimeoutMs: option({
    env: 'LIGHTRANK_DRAIN_TIMEOUT_MS',
    help: 'graceful shutdown: longest wait for in-flight requests',
    default: '10000',
    schema: int(0),
  }),
};

export type ServerConfig = Omit<ConfigOf<typeof SERVER_OPTIONS>, 'workers'> & {
  workers: number;
  /** --data-dir or its variable was given (else demo mode when the default one holds no model) */
  dataDirGiven: boolean;
};

export const CONFIG_HELP = configHelp(
  SERVER_OPTIONS,
  'usage: server [--flag value ...]   (each flag also reads the environment variable shown)',
);

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): ServerConfig {
  const { config, given } = readConfig(SERVER_OPTIONS, argv, env);
  // Any free port for HTTP (tests, side-by-side servers): any free port for gRPC too, unless given.
  const grpcPort = config.port === 0 && !given.has('grpcPort') ? 0 : config.grpcPort;
  // Default workers: on CUDA one (each worker's session holds its own copy of the snapshot in
  // device memory); on CPU one per two cores (the HTTP loop needs a core of its own).
  const workers =
    config.workers ??
    (config.executionProvider === 'cuda' ? 1 : Math.max(1, Math.floor(availableParallelism() / 2)));
  return { ...config, grpcPort, workers, dataDirGiven: given.has('dataDir') };
}
