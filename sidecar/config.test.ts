import { describe, expect, it } from 'vitest';
import { parseSidecarConfig } from './config.js';

const configFromEnv = (env: NodeJS.ProcessEnv) => parseSidecarConfig([], env)!;

const base = {
  LIGHTRANK_MODEL_URI: 's3://models/query.onnx',
  LIGHTRANK_MODEL_SHA256: 'AB'.repeat(32),
  LIGHTRANK_MODEL_VERSION: 'm1',
  LIGHTRANK_SNAPSHOT_URI: 's3://snapshots/standard',
};

describe('parseSidecarConfig', () => {
  it('applies the documented defaults', () => {
    const c = configFromEnv(base);
    expect(c.port).toBe(8081);
    expect(c.sync).toMatchObject({
      dataDir: '/var/lib/lightrank',
      pollMs: 30_000,
      jitter: 0.1,
      keep: 3,
      backoffBaseMs: 1000,
      backoffMaxMs: 60_000,
      refusedRetryMs: 300_000,
      s3ForcePathStyle: false,
      serverMetricsUrl: 'http://127.0.0.1:8080/metrics',
      limits: { stallMs: 30_000, minBytesPerSecond: 65_536, rateWindowMs: 60_000 },
      maxModelBytes: 2 ** 31,
      redirectOrigins: [],
      httpAuthorization: undefined,
      model: {
        uri: base.LIGHTRANK_MODEL_URI,
        sha256: 'ab'.repeat(32),
        version: 'm1',
        fingerprint: undefined,
      },
    });
  });

  it('reads the tuning variables', () => {
    const c = configFromEnv({
      ...base,
      LIGHTRANK_SNAPSHOT_POLL_SECONDS: '0.5',
      LIGHTRANK_SYNC_KEEP_VERSIONS: '5',
      LIGHTRANK_S3_FORCE_PATH_STYLE: 'true',
      LIGHTRANK_TOWER_FINGERPRINT: 'f00d',
    });
    expect(c.sync).toMatchObject({
      pollMs: 500,
      keep: 5,
      s3ForcePathStyle: true,
      model: { fingerprint: 'f00d' },
    });
  });

  it('reads the hostile-storage limits and the redirect origins allowed by name', () => {
    const c = configFromEnv({
      ...base,
      LIGHTRANK_SYNC_STALL_SECONDS: '5',
      LIGHTRANK_SYNC_MIN_BYTES_PER_SECOND: '0',
      LIGHTRANK_SYNC_RATE_WINDOW_SECONDS: '10',
      LIGHTRANK_SYNC_MAX_MODEL_BYTES: '1000000',
      LIGHTRANK_SYNC_REDIRECT_ORIGINS: 'https://cdn.example.com/any/path, http://mirror:8080',
      LIGHTRANK_HTTP_AUTHORIZATION: 'Bearer abc',
    });
    expect(c.sync).toMatchObject({
      limits: { stallMs: 5000, minBytesPerSecond: 0, rateWindowMs: 10_000 },
      maxModelBytes: 1_000_000,
      redirectOrigins: ['https://cdn.example.com', 'http://mirror:8080'],
      httpAuthorization: 'Bearer abc',
    });
    expect(() => configFromEnv({ ...base, LIGHTRANK_SYNC_REDIRECT_ORIGINS: 'ftp://x' })).toThrow(
      /LIGHTRANK_SYNC_REDIRECT_ORIGINS \("ftp:\/\/x"\): "ftp:\/\/x" is not an http\(s\) origin/,
    );
  });

  it('names every bad variable in one error', () => {
    expect(() =>
      configFromEnv({
        ...base,
        LIGHTRANK_MODEL_SHA256: 'nope',
        LIGHTRANK_SYNC_KEEP_VERSIONS: '1',
        LIGHTRANK_SNAPSHOT_URI: undefined,
      }),
    ).toThrow(
      /LIGHTRANK_SNAPSHOT_URI[\s\S]*LIGHTRANK_MODEL_SHA256|LIGHTRANK_MODEL_SHA256[\s\S]*LIGHTRANK_SNAPSHOT_URI/,
    );
    expect(() => configFromEnv({ ...base, LIGHTRANK_SYNC_KEEP_VERSIONS: '1' })).toThrow(
      /LIGHTRANK_SYNC_KEEP_VERSIONS/,
    );
  });
});

describe('sidecar flags', () => {
  it('a flag wins over its variable, --help asks for the help text', () => {
    const c = parseSidecarConfig(['--snapshot-poll-seconds', '2', '--model-version', 'm9'], {
      ...base,
      LIGHTRANK_SNAPSHOT_POLL_SECONDS: '60',
    })!;
    expect(c.sync.pollMs).toBe(2000);
    expect(c.sync.model.version).toBe('m9');
    expect(parseSidecarConfig(['--help'], {})).toBeUndefined();
    expect(() => parseSidecarConfig(['--snapshot-pol', '2'], base)).toThrow(/snapshot-pol.*--help/);
  });
});
