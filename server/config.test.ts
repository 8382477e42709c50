// Configuration precedence (flag > environment > default) and refusals naming flag and variable.
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';

describe('parseConfig', () => {
  it('applies defaults', () => {
    const c = parseConfig([], {});
    expect(c).toMatchObject({
      dataDir: '/var/lib/lightrank',
      dataDirGiven: false,
      modelName: 'demo',
      port: 8080,
      executionProvider: 'cpu',
      maxBatchSize: 32,
      maxQueueDelayUs: 0,
      demo: false,
    });
    expect(c.workers).toBeGreaterThanOrEqual(1);
  });

  it('reads the environment names of docs/internals.md, and flags win', () => {
    const env = {
      LIGHTRANK_DATA_DIR: '/data',
      LIGHTRANK_MODEL_NAME: 'shopping',
      LIGHTRANK_PORT: '9000',
      LIGHTRANK_EXECUTION_PROVIDER: 'cuda',
      LIGHTRANK_MAX_BATCH_SIZE: '8',
      LIGHTRANK_MAX_QUEUE_DELAY_US: '250',
      LIGHTRANK_SEGMENT: 'shopping',
      LIGHTRANK_TRACK: 'canary',
    };
    const c = parseConfig(['--port', '9100', '--demo'], env);
    expect(c).toMatchObject({
      dataDir: '/data',
      dataDirGiven: true,
      modelName: 'shopping',
      port: 9100,
      executionProvider: 'cuda',
      maxBatchSize: 8,
      maxQueueDelayUs: 250,
      segment: 'shopping',
      track: 'canary',
      demo: true,
      workers: 1, // one table copy in device memory
    });
  });

  it('gRPC port: 8001, off, or any free port when the HTTP port is any free port', () => {
    expect(parseConfig([], {}).grpcPort).toBe(8001);
    expect(parseConfig(['--grpc-port', 'off'], {}).grpcPort).toBeNull();
    expect(parseConfig(['--port', '0'], {}).grpcPort).toBe(0);
    expect(parseConfig([], { LIGHTRANK_PORT: '0' }).grpcPort).toBe(0);
    expect(parseConfig(['--port', '0'], { LIGHTRANK_GRPC_PORT: '9001' }).grpcPort).toBe(9001);
    expect(() => parseConfig(['--grpc-port', 'on'], {})).toThrow(/--grpc-port \/ LIGHTRANK_GRPC_PORT/);
    expect(parseConfig([], {})).toMatchObject({ maxDenseAbs: 1e12, responseCompression: true });
    expect(parseConfig(['--max-dense-abs', '1e20', '--response-compression', 'off'], {})).toMatchObject({
      maxDenseAbs: 1e20,
      responseCompression: false,
    });
  });

  it('refuses bad values naming the flag and the variable', () => {
    expect(() => parseConfig([], { LIGHTRANK_EXECUTION_PROVIDER: 'tpu' })).toThrow(
      /--execution-provider \/ LIGHTRANK_EXECUTION_PROVIDER/,
    );
    expect(() => parseConfig(['--max-batch-size', '0'], {})).toThrow(/--max-batch-size/);
    expect(() => parseConfig(['--port', 'eighty'], {})).toThrow(/--port/);
    expect(() => parseConfig(['--no-such-flag'], {})).toThrow(/no-such-flag/);
  });
});
