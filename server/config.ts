// Server configuration: command-line flags win over environment variables (names from
// docs/internals.md where the operator sets them), which win over defaults. Parsed once, with
// zod, into a typed `ServerConfig`; a bad value is refused naming the flag and the variable.
//
// API:
//   interface ServerConfig { ... }   (see the schema below)
//   parseConfig(argv: string[], env: NodeJS.ProcessEnv): ServerConfig   throws Error on bad input
//   CONFIG_HELP: string             the --help text
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';

/** flag name → [environment variable, description, default (as text)] */
const OPTIONS = {
  'data-dir': [
    'LIGHTRANK_DATA_DIR',
    'shared volume holding model/current and snapshot/current',
    '/var/lib/lightrank',
  ],
  demo: [
    'LIGHTRANK_DEMO',
    'build and serve the model kit demo model and snapshot (default: when no data dir is given and the default one holds no model)',
    '',
  ],
  'model-name': ['LIGHTRANK_MODEL_NAME', 'model name in the APIs', 'demo'],
  host: ['LIGHTRANK_HOST', 'listen address', '0.0.0.0'],
  port: ['LIGHTRANK_PORT', 'listen port (0 = any free port)', '8080'],
  'grpc-port': [
    'LIGHTRANK_GRPC_PORT',
    'gRPC port (OIP inference.GRPCInferenceService and lightrank.v1.Ranking); off = no gRPC; 0 = any free port (the default when --port is 0)',
    '8001',
  ],
  segment: ['LIGHTRANK_SEGMENT', 'segment name (metric label)', ''],
  track: ['LIGHTRANK_TRACK', 'stable or canary (metric label)', ''],
  'execution-provider': [
    'LIGHTRANK_EXECUTION_PROVIDER',
    'cuda or cpu (cuda falls back to cpu with a warning)',
    'cpu',
  ],
  workers: [
    'LIGHTRANK_WORKERS',
    'inference worker threads per loaded version (default: 1 on cuda, cores/2 on cpu)',
    '',
  ],
  'intra-op-threads': ['LIGHTRANK_INTRA_OP_THREADS', 'ONNX Runtime intra-op threads per worker', '1'],
  'max-batch-size': [
    'LIGHTRANK_MAX_BATCH_SIZE',
    'dynamic batching: most query rows per query-tower run (1 = off)',
    '32',
  ],
  'max-queue-delay-us': [
    'LIGHTRANK_MAX_QUEUE_DELAY_US',
    'dynamic batching: longest a request waits for others while a worker is idle',
    '0',
  ],
  'max-queue-length': [
    'LIGHTRANK_MAX_QUEUE_LENGTH',
    'requests queued beyond this are refused with 503',
    '1024',
  ],
  'max-candidates': ['LIGHTRANK_MAX_CANDIDATES', 'most candidate ids per ranking request', '10000'],
  'max-infer-rows': ['LIGHTRANK_MAX_INFER_ROWS', 'most rows per OIP infer request', '256'],
  'max-dense-abs': [
    'LIGHTRANK_MAX_DENSE_ABS',
    'largest |x| of a dense feature; larger ones are refused with 400 (the reference towers overflow float32 from ~1e14)',
    '1e12',
  ],
  'body-limit-bytes': [
    'LIGHTRANK_BODY_LIMIT_BYTES',
    'largest request body (decompressed), and gRPC message',
    '1048576',
  ],
  'response-compression': [
    'LIGHTRANK_RESPONSE_COMPRESSION',
    'on: compress REST responses when Accept-Encoding asks for gzip or deflate (as Triton does; Go clients ask by default); off: never',
    'on',
  ],
  'reload-poll-ms': ['LIGHTRANK_RELOAD_POLL_MS', 'how often the current pointers are read', '1000'],
  'drain-timeout-ms': [
    'LIGHTRANK_DRAIN_TIMEOUT_MS',
    'graceful shutdown: longest wait for in-flight requests',
    '10000',
  ],
} as const;

type OptionName = keyof typeof OPTIONS;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['', 'true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const schema = z.object({
  dataDir: z.string().min(1),
  dataDirGiven: z.boolean(),
  demo: bool,
  modelName: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, . _ - (at most 128)'),
  host: z.string().min(1),
  port: int(0, 65535),
  grpcPort: z.union([z.literal('off').transform(() => null), int(0, 65535)]),
  segment: z.string(),
  track: z.string(),
  executionProvider: z.enum(['cuda', 'cpu']),
  workers: int(1, 64),
  intraOpThreads: int(0, 64),
  maxBatchSize: int(1, 4096),
  maxQueueDelayUs: int(0, 1_000_000),
  maxQueueLength: int(1),
  maxCandidates: int(1, 1_000_000),
  maxInferRows: int(1, 65536),
  maxDenseAbs: z.coerce.number().positive().max(3.4028234663852886e38),
  bodyLimitBytes: int(1024),
  responseCompression: z.enum(['on', 'off']).transform((v) => v === 'on'),
  reloadPollMs: int(10),
  drainTimeoutMs: int(0),
});

export type ServerConfig = z.infer<typeof schema>;

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export const CONFIG_HELP = [
  'usage: server [--flag value ...]   (each flag also reads the environment variable shown)',
  ...Object.entries(OPTIONS).map(
    ([flag, [env, desc, def]]) => `  --${flag}  ${env}  ${desc}${def ? ` [${def}]` : ''}`,
  ),
].join('\n');

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): ServerConfig {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      Object.keys(OPTIONS).map((k) => [
        k,
        k === 'demo' ? { type: 'boolean' as const } : { type: 'string' as const },
      ]),
    ),
    strict: true,
    allowPositionals: false,
  });
  const raw: Record<string, unknown> = {};
  for (const [flag, [envName, , def]] of Object.entries(OPTIONS) as [
    OptionName,
    (typeof OPTIONS)[OptionName],
  ][]) {
    const fromFlag = values[flag];
    const value = fromFlag !== undefined ? String(fromFlag) : (env[envName] ?? def);
    raw[camel(flag)] = value;
  }
  // Any free port for HTTP (tests, side-by-side servers): any free port for gRPC too, unless given.
  if (values['grpc-port'] === undefined && env.LIGHTRANK_GRPC_PORT === undefined && raw.port === '0')
    raw.grpcPort = '0';
  raw.dataDirGiven = values['data-dir'] !== undefined || env.LIGHTRANK_DATA_DIR !== undefined;
  // Default workers: on CUDA one (each worker's session holds its own copy of the snapshot in
  // device memory); on CPU one per two cores (the HTTP loop needs a core of its own).
  if (raw.workers === '') {
    raw.workers =
      raw.executionProvider === 'cuda' ? '1' : String(Math.max(1, Math.floor(availableParallelism() / 2)));
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const envName = (OPTIONS as Record<string, readonly string[]>)[flag]?.[0];
    throw new Error(
      `invalid --${flag}${envName ? ` / ${envName}` : ''} (${JSON.stringify(raw[key])}): ${issue.message}`,
    );
  }
  return parsed.data;
}
