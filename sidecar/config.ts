// The sidecar's configuration through the shared reader (lib/config.ts): the environment the
// operator sets (names in api/pod-env.ts; docs/internals.md) plus optional tuning variables
// (docs/snapshots.md), each also a flag (flags win). Throws one error listing every bad value.
//
// API:
//   parseSidecarConfig(argv, env) → SidecarEnv | undefined (undefined: --help was asked for)
//   SIDECAR_HELP: string
import { z } from 'zod';
import { PodEnv } from '../api/pod-env.js';
import { SCORING_POD_OPTIONS } from '../lib/pod-options.js';
import { configHelp, option, readConfig, schemas } from '../lib/config.js';
import { DEFAULT_MAX_MODEL_BYTES } from './model-sync.js';
import type { SidecarConfig } from './sidecar.js';
import { originOf } from './sources/http.js';

const seconds = (fallback: number, help: string, env: string) =>
  option({ env, help, default: String(fallback), schema: z.coerce.number().positive() });

export const SIDECAR_OPTIONS = {
  ...SCORING_POD_OPTIONS,
  host: option({
    env: PodEnv.Host,
    help: 'listen address of /healthz, /readyz, /metrics (default: every interface)',
    schema: schemas.optionalText(),
  }),
  port: option({
    env: PodEnv.Port,
    help: 'health and metrics port',
    default: '8081',
    schema: schemas.port(),
  }),
  modelUri: option({
    env: PodEnv.ModelUri,
    help: 'query tower: s3://, http(s):// or file:// URI',
    schema: z.string().min(1),
  }),
  modelSha256: option({
    env: PodEnv.ModelSha256,
    help: 'the query tower file sha256',
    schema: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'a hex sha256')
      .transform((v) => v.toLowerCase()),
  }),
  modelVersion: option({ env: PodEnv.ModelVersion, help: 'model version label', schema: z.string().min(1) }),
  towerFingerprint: option({
    env: PodEnv.TowerFingerprint,
    help: 'fingerprint the model and snapshots must carry',
    schema: schemas.optionalText(),
  }),
  snapshotUri: option({
    env: PodEnv.SnapshotUri,
    help: 'snapshot prefix (holding LATEST): s3://, http(s):// or file:// URI',
    schema: z.string().min(1),
  }),
  snapshotPollSeconds: seconds(30, 'how often LATEST is read', PodEnv.SnapshotPollSeconds),
  syncJitter: option({
    env: 'LIGHTRANK_SYNC_JITTER',
    help: 'poll jitter, a share of the interval',
    default: '0.1',
    schema: z.coerce.number().min(0).max(1),
  }),
  syncKeepVersions: option({
    env: 'LIGHTRANK_SYNC_KEEP_VERSIONS',
    help: 'versions kept on the volume (the current one and earlier)',
    default: '3',
    schema: schemas.int(2),
  }),
  syncBackoffBaseSeconds: seconds(
    1,
    'first retry delay after a failed sync',
    'LIGHTRANK_SYNC_BACKOFF_BASE_SECONDS',
  ),
  syncBackoffMaxSeconds: seconds(60, 'longest retry delay', 'LIGHTRANK_SYNC_BACKOFF_MAX_SECONDS'),
  syncRefusedRetrySeconds: seconds(
    300,
    'retry delay for a version refused (checksum, fingerprint, ...)',
    'LIGHTRANK_SYNC_REFUSED_RETRY_SECONDS',
  ),
  serverMetricsUrl: option({
    env: 'LIGHTRANK_SERVER_METRICS_URL',
    help: "the server's /metrics, asked what it serves before old versions are pruned ('' = don't ask)",
    default: 'http://127.0.0.1:8080/metrics',
    emptyIsValue: true,
    schema: schemas.optionalText(),
  }),
  syncStallSeconds: seconds(
    30,
    'a download that sends nothing this long is cut',
    'LIGHTRANK_SYNC_STALL_SECONDS',
  ),
  syncMinBytesPerSecond: option({
    env: 'LIGHTRANK_SYNC_MIN_BYTES_PER_SECOND',
    help: 'a download slower than this over the rate window is cut (0 = no floor)',
    default: String(64 * 1024),
    schema: z.coerce.number().min(0),
  }),
  syncRateWindowSeconds: seconds(60, 'window of the rate floor', 'LIGHTRANK_SYNC_RATE_WINDOW_SECONDS'),
  syncMaxModelBytes: option({
    env: 'LIGHTRANK_SYNC_MAX_MODEL_BYTES',
    help: 'largest model file accepted',
    default: String(DEFAULT_MAX_MODEL_BYTES),
    schema: schemas.int(1),
  }),
  syncRedirectOrigins: option({
    env: 'LIGHTRANK_SYNC_REDIRECT_ORIGINS',
    help: 'comma-separated http(s) origins a download may be redirected to (other origins are refused)',
    default: '',
    schema: z.string().transform((v, ctx) => {
      const origins: string[] = [];
      for (const item of v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)) {
        try {
          origins.push(originOf(item));
        } catch {
          ctx.addIssue({ code: 'custom', message: `${JSON.stringify(item)} is not an http(s) origin` });
        }
      }
      return origins;
    }),
  }),
  httpAuthorization: option({
    env: 'LIGHTRANK_HTTP_AUTHORIZATION',
    help: 'Authorization header sent to http(s) storage (never to a redirect target)',
    schema: schemas.optionalText(),
  }),
  s3ForcePathStyle: option({
    env: 'LIGHTRANK_S3_FORCE_PATH_STYLE',
    help: 'path-style S3 addressing (MinIO and most S3-compatible servers)',
    default: 'false',
    schema: schemas.bool(),
  }),
};

export interface SidecarEnv {
  host: string | undefined;
  port: number;
  segment: string;
  track: string;
  sync: SidecarConfig;
}

export const SIDECAR_HELP = configHelp(
  SIDECAR_OPTIONS,
  'lightrank sync sidecar: keeps the model and the newest embedding snapshot on the shared volume.',
);

export function parseSidecarConfig(argv: string[], env: NodeJS.ProcessEnv): SidecarEnv | undefined {
  const { config: e, help } = readConfig(SIDECAR_OPTIONS, argv, env);
  if (help) return undefined;
  return {
    host: e.host,
    port: e.port,
    segment: e.segment,
    track: e.track,
    sync: {
      dataDir: e.dataDir,
      model: {
        uri: e.modelUri,
        sha256: e.modelSha256,
        version: e.modelVersion,
        fingerprint: e.towerFingerprint,
      },
      snapshotUri: e.snapshotUri,
      pollMs: e.snapshotPollSeconds * 1000,
      jitter: e.syncJitter,
      keep: e.syncKeepVersions,
      backoffBaseMs: e.syncBackoffBaseSeconds * 1000,
      backoffMaxMs: e.syncBackoffMaxSeconds * 1000,
      refusedRetryMs: e.syncRefusedRetrySeconds * 1000,
      s3ForcePathStyle: e.s3ForcePathStyle,
      serverMetricsUrl: e.serverMetricsUrl,
      limits: {
        stallMs: e.syncStallSeconds * 1000,
        minBytesPerSecond: e.syncMinBytesPerSecond,
        rateWindowMs: e.syncRateWindowSeconds * 1000,
      },
      maxModelBytes: e.syncMaxModelBytes,
      redirectOrigins: e.syncRedirectOrigins,
      httpAuthorization: e.httpAuthorization,
    },
  };
}
