// The sidecar's footprint: it runs in every scoring pod, and its process never loads
// @kubernetes/client-node (~55 MiB of its RSS, bench/results-operator.md): its Events and pod
// annotations go through the operator's own Kubernetes client (sidecar/kube.ts). A module hook
// (test/harness/no-client-node.ts) refuses client-node in the sidecar's process, started with a
// pod's environment; it must still start, sync a snapshot from storage and be ready.
import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeLatest } from '../../snapshot/writer.js';
import { NO_CLIENT_NODE, REFUSED, importClientNodeUnderHook } from '../harness/no-client-node.js';
import { writeModel, writeSnapshotVersion } from './helpers/fixtures.js';
import { RepoProcess, waitFor } from './helpers/processes.js';

let work: string;
let sidecar: RepoProcess | undefined;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lightrank-sidecar-footprint-'));
});

afterAll(async () => {
  await sidecar?.stop();
  await rm(work, { recursive: true, force: true });
});

it('the hook refuses client-node (so the next test can fail)', () => {
  const r = importClientNodeUnderHook();
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(REFUSED);
});

it('syncs and serves, with a pod environment, without loading client-node', async () => {
  const storage = path.join(work, 'storage');
  const model = await writeModel(path.join(storage, 'models'));
  await writeSnapshotVersion(path.join(storage, 'snap'), 'v1', model.fingerprint);
  await writeLatest(path.join(storage, 'snap'), 'v1');
  const dataDir = path.join(work, 'data');
  sidecar = await RepoProcess.sidecar(
    {
      LIGHTRANK_DATA_DIR: dataDir,
      LIGHTRANK_MODEL_URI: pathToFileURL(model.file).href,
      LIGHTRANK_MODEL_SHA256: model.sha256,
      LIGHTRANK_MODEL_VERSION: 'm1',
      LIGHTRANK_TOWER_FINGERPRINT: model.fingerprint,
      LIGHTRANK_SNAPSHOT_URI: pathToFileURL(path.join(storage, 'snap')).href,
      LIGHTRANK_SNAPSHOT_POLL_SECONDS: '0.1',
      // a pod's identity and API server address (nothing answers there): the Event and
      // annotation reporters are set up as in a scoring pod
      POD_NAME: 'scoring-standard-0',
      POD_NAMESPACE: 'default',
      POD_UID: '0f1e2d3c',
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: '1',
    },
    undefined,
    ['--import', NO_CLIENT_NODE],
  );
  await waitFor('ready on v1', () => sidecar!.ready(), 30_000);
  expect(await readlink(path.join(dataDir, 'snapshot/current'))).toContain('v1');
  expect(sidecar.stderr).not.toContain(REFUSED);
  expect(JSON.stringify(sidecar.logs)).not.toContain(REFUSED);
});
