// End to end with the scoring server: S3 (moto) → sidecar → shared volume → server/main.ts,
// all real processes on loopback. Given v1, the server is ready on v1; when v2 is published
// under continuous load, it switches with zero failed requests; when a corrupt v3 is
// published, the sidecar refuses it and v2 keeps serving.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBadSnapshot, writeModel, writeSnapshotVersion, type ModelFixture } from './helpers/fixtures.js';
import { startLoad } from './helpers/load.js';
import { RepoProcess, waitFor } from './helpers/processes.js';
import { publishToS3, putFile } from './helpers/s3-publish.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';

const BUCKET = 'lightrank-e2e';
const PREFIX = 'snapshots';
const MODEL_NAME = 'ads';

describe('sidecar feeding a scoring server', () => {
  let s3: S3Server;
  let work: string;
  let local: string;
  let model: ModelFixture;
  let sidecar: RepoProcess;
  let server: RepoProcess;
  const rankBody = {
    query: { dense: [0.1, -0.2, 0.3, 0.4], categorical: [3, 7] },
    candidates: [1, 2, 3, 4, 5, 6, 7, 8],
  };
  const rank = async () => {
    const res = await fetch(`${server.url}/v1/models/${MODEL_NAME}/rank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(rankBody),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as {
      snapshotVersion: string;
      modelVersion: string;
      scores: Record<string, number[]>;
    };
  };

  beforeAll(async () => {
    s3 = await startS3Server();
    await s3.createBucket(BUCKET);
    work = await mkdtemp(path.join(tmpdir(), 'lightrank-sidecar-e2e-'));
    local = path.join(work, 'storage');
    model = await writeModel(path.join(work, 'models'));
    await putFile(s3.client, BUCKET, 'models/query.onnx', model.file);
    const dataDir = path.join(work, 'volume');
    server = await RepoProcess.server({
      LIGHTRANK_DATA_DIR: dataDir,
      LIGHTRANK_MODEL_NAME: MODEL_NAME,
      LIGHTRANK_HOST: '127.0.0.1',
      LIGHTRANK_RELOAD_POLL_MS: '100',
      LIGHTRANK_WORKERS: '1',
    });
    sidecar = await RepoProcess.sidecar({
      ...s3.env,
      LIGHTRANK_DATA_DIR: dataDir,
      LIGHTRANK_MODEL_URI: `s3://${BUCKET}/models/query.onnx`,
      LIGHTRANK_MODEL_SHA256: model.sha256,
      LIGHTRANK_MODEL_VERSION: 'm1',
      LIGHTRANK_TOWER_FINGERPRINT: model.fingerprint,
      LIGHTRANK_SNAPSHOT_URI: `s3://${BUCKET}/${PREFIX}`,
      LIGHTRANK_SNAPSHOT_POLL_SECONDS: '0.2',
      LIGHTRANK_SERVER_METRICS_URL: `${server.url}/metrics`,
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
    await server?.stop();
    await s3?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('given v1 published, the server turns ready on v1', async () => {
    expect(await server.ready()).toBe(false);
    await writeSnapshotVersion(local, 'v1', model.fingerprint);
    await publishToS3(s3.client, BUCKET, PREFIX, local, 'v1');
    await waitFor('sidecar ready', () => sidecar.ready());
    await waitFor('server ready', () => server.ready(), 30_000);
    const res = await rank();
    expect(res.snapshotVersion).toBe('v1');
    expect(res.modelVersion).toBe('m1');
  });

  it('when v2 is published under continuous load, the server switches with zero failed requests', async () => {
    const load = startLoad(`${server.url}/v1/models/${MODEL_NAME}/rank`, rankBody, {
      concurrency: 4,
      maxMs: 30_000,
    });
    await new Promise((r) => setTimeout(r, 500));
    await writeSnapshotVersion(local, 'v2', model.fingerprint, 128);
    await publishToS3(s3.client, BUCKET, PREFIX, local, 'v2');
    await waitFor('answers from v2', () => (load.result.versions.get('v2') ?? 0) > 20, 25_000);
    const result = await load.stop();
    expect(result.failed).toEqual([]);
    expect(result.versions.get('v1')).toBeGreaterThan(0);
    // The switch is atomic: no request started after the first v2 answer came back is answered by v1.
    const first = result.samples.find((x) => x.snapshotVersion === 'v2')!;
    const lateV1 = result.samples.filter((x) => x.snapshotVersion === 'v1' && x.at > first.at + first.ms);
    expect(lateV1).toEqual([]);
  });

  it('when a corrupt v3 is published, the sidecar refuses it and v2 keeps serving', async () => {
    await writeBadSnapshot(local, 'v3', model.fingerprint, 'checksum');
    await publishToS3(s3.client, BUCKET, PREFIX, local, 'v3');
    await waitFor(
      'refusal counted',
      async () =>
        (await sidecar.metric('lightrank_sidecar_sync_failures_total', {
          kind: 'snapshot',
          cause: 'checksum',
        })) > 0,
    );
    await new Promise((r) => setTimeout(r, 300)); // more than the server's reload poll
    expect((await rank()).snapshotVersion).toBe('v2');
    expect(await server.ready()).toBe(true);
  });
});
