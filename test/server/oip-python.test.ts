// The server driven by another ecosystem's OIP clients: NVIDIA's Python `tritonclient` (PyPI),
// its gRPC client (inference.GRPCInferenceService: health, metadata, ModelInfer with raw
// tensors) and its HTTP client (JSON infer sent with no Content-Type, the binary tensor
// extension, gzip/deflate requests and responses), by scripts/oip-client-check.py in the
// virtualenv scripts/oip-client.sh installs into the cache outside the repo (first run ~1 min).
// Each answer must equal the server's own REST answer for the same features. Without python3 or
// PyPI the test is skipped with a warning, except under CI=true, where it fails.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateFeatures } from '../../modelkit/catalogue.js';
import { serveDemo } from './fixture.js';
import type { ServerProcess, Staged } from './harness.js';

const REPO = join(import.meta.dirname, '..', '..');
const MODEL = 'pyoip';

const demo = serveDemo('lightrank-oip-python-', ['--model-name', MODEL], { loadEmbeddings: false });
let staged: Staged;
let server: ServerProcess;
let python: string | undefined;
let installError: string | undefined;

beforeAll(() => {
  ({ staged, server } = demo);
  try {
    const out = execFileSync('bash', [join(REPO, 'scripts', 'oip-client.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 170_000,
    });
    python = out.trim().split('\n').at(-1);
  } catch (e) {
    installError = `scripts/oip-client.sh failed (python3 and PyPI needed): ${(e as { stderr?: string }).stderr ?? String(e)}`;
    if (process.env.CI === 'true') throw new Error(installError);
    console.warn(`skipping the Python OIP client test: ${installError}`);
  }
}, 180_000);

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('tritonclient (Python) against the server', () => {
  it('gRPC and HTTP clients get the REST answers; errors are theirs to read', async (ctx) => {
    if (!python) return ctx.skip();
    const cfg = staged.bundle.config;
    const { dense, categorical } = generateFeatures(
      { numDense: cfg.query.numDense, numCategorical: cfg.query.numCategorical },
      2,
      51,
    );
    const rows = (a: ArrayLike<number | bigint>, width: number) =>
      Array.from({ length: a.length / width }, (_, r) =>
        Array.from({ length: width }, (_, c) => Number(a[r * width + c]!)),
      );
    const rest = await server.post(`/v2/models/${MODEL}/infer`, {
      inputs: [
        { name: 'dense', datatype: 'FP32', shape: [2, cfg.query.numDense], data: Array.from(dense) },
        {
          name: 'categorical',
          datatype: 'INT64',
          shape: [2, cfg.query.numCategorical],
          data: Array.from(categorical, String),
        },
      ],
    });
    expect(rest.status).toBe(200);
    const want = Array.from(Float32Array.from(rest.body.outputs[0].data as number[]));
    const out = execFileSync(
      python,
      [
        join(REPO, 'scripts', 'oip-client-check.py'),
        JSON.stringify({
          grpc: `127.0.0.1:${server.grpcPort}`,
          http: `127.0.0.1:${server.port}`,
          model: MODEL,
          dense: rows(dense, cfg.query.numDense),
          categorical: rows(categorical, cfg.query.numCategorical),
        }),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    const got = JSON.parse(out) as { grpc: any; http: any };
    const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));

    const g = got.grpc;
    expect(g).toMatchObject({ live: true, ready: true, model_ready: true, id: 'py-grpc', live_after: true });
    expect(g.server_metadata).toMatchObject({ name: 'lightrank', extensions: ['binary_tensor_data'] });
    expect(g.model_metadata).toMatchObject({ name: MODEL, versions: ['m1'], platform: 'onnxruntime_onnx' });
    expect(g.shape).toEqual([2, cfg.tasks.length, cfg.dim]);
    expect(f32(g.query)).toEqual(want);
    expect(g.unknown_model.status).toBe('StatusCode.NOT_FOUND');
    expect(g.sequence.status).toBe('StatusCode.INVALID_ARGUMENT');
    expect(g.sequence.message).toContain('not a sequence (stateful) model');
    expect(g.too_big.status).toBe('StatusCode.INVALID_ARGUMENT');
    expect(g.too_big.message).toContain('--max-dense-abs');

    const h = got.http;
    expect(h).toMatchObject({ live: true, ready: true, model_ready: true });
    expect(h.model_metadata.name).toBe(MODEL);
    for (const kind of ['json', 'binary', 'gzip', 'deflate']) expect(f32(h[kind]), kind).toEqual(want);
    expect(server.logs.filter((l) => l.level >= 50)).toEqual([]);
  }, 120_000);
});
/* eslint-enable @typescript-eslint/no-explicit-any */
