// What the sidecar reports about its pod, and when, with an http:// source (a real node:http
// server with ETags on loopback): storage's LATEST as soon as it moves — before the download —
// then the served version once published; LATEST once per change, not per poll. The reporter
// here records calls: a test double of sidecar/pod-status.ts's Kubernetes reporter, whose
// patches are tested against a real API server in events.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import type { PodStatusReporter } from '../../sidecar/pod-status.js';
import { Sidecar } from '../../sidecar/sidecar.js';
import { writeLatest, writeModel, writeSnapshotVersion } from './helpers/fixtures.js';
import { HttpDirServer } from './helpers/http-dir-server.js';
import { waitFor } from './helpers/processes.js';

describe('sidecar pod reports', () => {
  let work: string;
  let http: HttpDirServer;
  let sidecar: Sidecar;
  let fingerprint: string;
  const calls: string[] = [];
  const recorder: PodStatusReporter = {
    latest: async (v) => void calls.push(`latest ${v}`),
    served: async (s) => void calls.push(`served ${s.snapshotVersion}`),
    // the cause is `<code>: <message>`; the code is what the operator reads (FingerprintMismatch)
    refused: async (kind, v, cause) => void calls.push(`refused ${kind} ${v} ${cause.split(': ')[0]}`),
    accepted: async (kind) => void calls.push(`accepted ${kind}`),
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'lightrank-sidecar-report-'));
    const storage = path.join(work, 'www');
    const model = await writeModel(path.join(storage, 'models'));
    fingerprint = model.fingerprint;
    await writeSnapshotVersion(path.join(storage, 'snap'), 'v1', model.fingerprint);
    await writeLatest(path.join(storage, 'snap'), 'v1');
    http = new HttpDirServer(storage);
    await http.start();
    sidecar = new Sidecar(
      {
        dataDir: path.join(work, 'volume'),
        model: {
          uri: `${http.url}/models/model.onnx`,
          sha256: model.sha256,
          version: 'm1',
          fingerprint: undefined,
        },
        snapshotUri: `${http.url}/snap`,
        pollMs: 50,
        jitter: 0,
        keep: 2,
        backoffBaseMs: 50,
        backoffMaxMs: 200,
        refusedRetryMs: 60_000,
        s3ForcePathStyle: false,
        serverMetricsUrl: undefined,
      },
      { log: createLogger('sidecar-report-test'), registry: new Registry(), podStatus: recorder },
    );
    await sidecar.start();
  });

  afterAll(async () => {
    await sidecar?.stop();
    await http?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("reports storage's LATEST before downloading it, the served version after, LATEST once per change", async () => {
    const snap = path.join(work, 'www', 'snap');
    await waitFor('served v1', async () => calls.includes('served v1'));
    await new Promise((r) => setTimeout(r, 300)); // several polls of an unchanged LATEST
    expect(calls).toEqual(['latest v1', 'served v1']);

    await writeSnapshotVersion(snap, 'v2', fingerprint, 64, 1000);
    await writeLatest(snap, 'v2');
    await waitFor('served v2', async () => calls.includes('served v2'));
    expect(calls).toEqual(['latest v1', 'served v1', 'latest v2', 'served v2']);

    // a v3 of another tower: LATEST is reported, then the refusal with its code; v2 keeps serving
    await writeSnapshotVersion(snap, 'v3', 'another-tower', 64, 1000);
    await writeLatest(snap, 'v3');
    await waitFor('v3 refused', async () => calls.includes('refused snapshot v3 fingerprint'));
    expect(calls.slice(4)).toEqual(['latest v3', 'refused snapshot v3 fingerprint']);
    expect(sidecar.ready).toBe(true);
  });
});
