// The sidecar's configuration, from the environment the operator sets (docs/internals.md) plus
// optional tuning variables (docs/snapshots.md). Throws one error listing every bad variable.
import { z } from 'zod';
import { DEFAULT_MAX_MODEL_BYTES } from './model-sync.js';
import type { SidecarConfig } from './sidecar.js';
import { originOf } from './sources/http.js';

const seconds = (fallback: number) => z.coerce.number().positive().default(fallback);

const envSchema = z.object({
  LIGHTRANK_DATA_DIR: z.string().min(1).default('/var/lib/lightrank'),
  LIGHTRANK_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  LIGHTRANK_MODEL_URI: z.string().min(1),
  LIGHTRANK_MODEL_SHA256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'a hex sha256'),
  LIGHTRANK_MODEL_VERSION: z.string().min(1),
  LIGHTRANK_TOWER_FINGERPRINT: z.string().min(1).optional(),
  LIGHTRANK_SNAPSHOT_URI: z.string().min(1),
  LIGHTRANK_SNAPSHOT_POLL_SECONDS: seconds(30),
  LIGHTRANK_SYNC_JITTER: z.coerce.number().min(0).max(1).default(0.1),
  LIGHTRANK_SYNC_KEEP_VERSIONS: z.coerce.number().int().min(2).default(3),
  LIGHTRANK_SYNC_BACKOFF_BASE_SECONDS: seconds(1),
  LIGHTRANK_SYNC_BACKOFF_MAX_SECONDS: seconds(60),
  LIGHTRANK_SYNC_REFUSED_RETRY_SECONDS: seconds(300),
  LIGHTRANK_SERVER_METRICS_URL: z.string().default('http://127.0.0.1:8080/metrics'),
  LIGHTRANK_SYNC_STALL_SECONDS: seconds(30),
  LIGHTRANK_SYNC_MIN_BYTES_PER_SECOND: z.coerce
    .number()
    .min(0)
    .default(64 * 1024),
  LIGHTRANK_SYNC_RATE_WINDOW_SECONDS: seconds(60),
  LIGHTRANK_SYNC_MAX_MODEL_BYTES: z.coerce.number().int().positive().default(DEFAULT_MAX_MODEL_BYTES),
  LIGHTRANK_SYNC_REDIRECT_ORIGINS: z
    .string()
    .default('')
    .transform((v, ctx) => {
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
  LIGHTRANK_HTTP_AUTHORIZATION: z.string().optional(),
  LIGHTRANK_S3_FORCE_PATH_STYLE: z
    .enum(['true', 'false', '1', '0', ''])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
});

export interface SidecarEnv {
  port: number;
  sync: SidecarConfig;
}

export function configFromEnv(env: NodeJS.ProcessEnv): SidecarEnv {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid sidecar environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    port: e.LIGHTRANK_PORT,
    sync: {
      dataDir: e.LIGHTRANK_DATA_DIR,
      model: {
        uri: e.LIGHTRANK_MODEL_URI,
        sha256: e.LIGHTRANK_MODEL_SHA256.toLowerCase(),
        version: e.LIGHTRANK_MODEL_VERSION,
        fingerprint: e.LIGHTRANK_TOWER_FINGERPRINT,
      },
      snapshotUri: e.LIGHTRANK_SNAPSHOT_URI,
      pollMs: e.LIGHTRANK_SNAPSHOT_POLL_SECONDS * 1000,
      jitter: e.LIGHTRANK_SYNC_JITTER,
      keep: e.LIGHTRANK_SYNC_KEEP_VERSIONS,
      backoffBaseMs: e.LIGHTRANK_SYNC_BACKOFF_BASE_SECONDS * 1000,
      backoffMaxMs: e.LIGHTRANK_SYNC_BACKOFF_MAX_SECONDS * 1000,
      refusedRetryMs: e.LIGHTRANK_SYNC_REFUSED_RETRY_SECONDS * 1000,
      s3ForcePathStyle: e.LIGHTRANK_S3_FORCE_PATH_STYLE,
      serverMetricsUrl: e.LIGHTRANK_SERVER_METRICS_URL || undefined,
      limits: {
        stallMs: e.LIGHTRANK_SYNC_STALL_SECONDS * 1000,
        minBytesPerSecond: e.LIGHTRANK_SYNC_MIN_BYTES_PER_SECOND,
        rateWindowMs: e.LIGHTRANK_SYNC_RATE_WINDOW_SECONDS * 1000,
      },
      maxModelBytes: e.LIGHTRANK_SYNC_MAX_MODEL_BYTES,
      redirectOrigins: e.LIGHTRANK_SYNC_REDIRECT_ORIGINS,
      httpAuthorization: e.LIGHTRANK_HTTP_AUTHORIZATION || undefined,
    },
  };
}
