// End to end with an http:// source (a real node:http server with ETags on loopback) and the
// sidecar as a real process: LATEST is polled with If-None-Match; when the server goes down the
// sidecar backs off (capped exponential, jittered), and when it comes back it recovers.
import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLatest, writeModel, writeSnapshotVersion, type ModelFixture } from './helpers/fixtures.js';
import { HttpDirServer } from './helpers/http-dir-server.js';
import { RepoProcess, waitFor } from './helpers/processes.js';

describe('sidecar syncing over HTTP', () => {
  let work: string;
  let dataDir: string;
  let storage: string;
  let model: ModelFixture;
  let http: HttpDirServer;
  let sidecar: RepoProcess;
  const current = () => readlink(path.join(dataDir, 'snapshot', 'current')).catch(() => undefined);

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'lightrank-sidecar-http-'));
    dataDir = path.join(work, 'volume');
    storage = path.join(work, 'www');
    model = await writeModel(path.join(storage, 'models'));
    await writeSnapshotVersion(path.join(storage, 'snap'), 'v1', model.fingerprint);
    await writeLatest(path.join(storage, 'snap'), 'v1');
    http = new HttpDirServer(storage);
    await http.start();
    sidecar = await RepoProcess.sidecar({
      LIGHTRANK_DATA_DIR: dataDir,
      LIGHTRANK_MODEL_URI: `${http.url}/models/model.onnx`,
      LIGHTRANK_MODEL_SHA256: model.sha256,
      LIGHTRANK_MODEL_VERSION: 'm1',
      LIGHTRANK_SNAPSHOT_URI: `${http.url}/snap`,
      LIGHTRANK_SNAPSHOT_POLL_SECONDS: '0.1',
      LIGHTRANK_SYNC_BACKOFF_BASE_SECONDS: '0.1',
      LIGHTRANK_SYNC_BACKOFF_MAX_SECONDS: '0.8',
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
    await http?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('syncs v1, taking the fingerprint from the ONNX metadata, and then polls with If-None-Match', async () => {
    await waitFor('ready', () => sidecar.ready());
    expect(await current()).toBe('v1');
    const downloaded = await sidecar.metric('lightrank_sidecar_downloaded_bytes_total', { kind: 'snapshot' });
    const requests = http.requests;
    await new Promise((r) => setTimeout(r, 600));
    expect(http.requests).toBeGreaterThan(requests + 2); // it keeps polling LATEST…
    expect(await sidecar.metric('lightrank_sidecar_downloaded_bytes_total', { kind: 'snapshot' })).toBe(
      downloaded,
    ); // …getting 304s
  });

  it('backs off while the source is down, then recovers and takes v2', async () => {
    await http.stop();
    const downSince = sidecar.logs.length;
    await new Promise((r) => setTimeout(r, 2500));
    const retries = sidecar.logs
      .slice(downSince)
      .filter((l) => l.msg === 'snapshot source error; backing off')
      .map((l) => l.retryInMs as number);
    // Polling every 100 ms would make ~25 attempts in 2.5 s; backoff makes far fewer.
    expect(retries.length).toBeGreaterThanOrEqual(3);
    expect(retries.length).toBeLessThan(12);
    expect(retries.at(-1)!).toBeGreaterThan(retries[0]! * 2);
    expect(Math.max(...retries)).toBeLessThanOrEqual(800);
    // Every failure is counted and logged. The sidecar keeps retrying while we read, so the
    // counter read now is at least the retries logged so far, and its lines follow it in the log.
    const counted = await sidecar.metric('lightrank_sidecar_sync_failures_total', {
      kind: 'snapshot',
      cause: 'source_unavailable',
    });
    expect(counted).toBeGreaterThanOrEqual(retries.length);
    const logged = () =>
      sidecar.logs.slice(downSince).filter((l) => l.msg === 'snapshot source error; backing off').length;
    await waitFor('each counted failure logged', () => logged() >= counted, 2000);
    expect(await sidecar.ready()).toBe(true); // the last good snapshot still serves
    expect(await current()).toBe('v1');

    await writeSnapshotVersion(path.join(storage, 'snap'), 'v2', model.fingerprint, 16, 100);
    await writeLatest(path.join(storage, 'snap'), 'v2');
    await http.start(); // same port
    await waitFor('current = v2', async () => (await current()) === 'v2', 5000);
    const failures = await sidecar.metric('lightrank_sidecar_sync_failures_total', {
      kind: 'snapshot',
      cause: 'source_unavailable',
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(
      await sidecar.metric('lightrank_sidecar_sync_failures_total', {
        kind: 'snapshot',
        cause: 'source_unavailable',
      }),
    ).toBe(failures);
  });
});
