// Sync + swap of a large embedding snapshot through the sidecar, and what the scoring server's
// latency does meanwhile. Real processes on loopback: moto (S3) → sidecar/main.ts → shared volume
// → server/main.ts. Publishes v1 and v2 (default 1M items × 2 tasks × 64 dims float32, 512 MB
// each), measures the sidecar's sync time for v1, the server's p50/p99 in steady state on v1,
// then flips LATEST to v2 under the same load and measures the sync, the swap (sidecar publish →
// first v2 answer) and the p50/p99 during it. Goals: 0 failed requests; p99 during swap ≤ 2× steady.
//   npm run bench:sidecar -- [--rows 1000000] [--dim 64] [--concurrency 4] [--candidates 200]
//                            [--steady-seconds 10] [--workers 1]
import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeLargeSnapshot, writeModel } from '../test/sidecar/helpers/fixtures.js';
import { percentile, startLoad, type LoadResult } from '../test/sidecar/helpers/load.js';
import { RepoProcess, waitFor } from '../test/sidecar/helpers/processes.js';
import { publishToS3, putFile, setLatestS3 } from '../test/sidecar/helpers/s3-publish.js';
import { startS3Server } from '../test/sidecar/helpers/s3-server.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    dim: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '4' },
    candidates: { type: 'string', default: '200' },
    'steady-seconds': { type: 'string', default: '10' },
    workers: { type: 'string', default: '1' },
  },
});
const rows = Number(args.rows);
const dim = Number(args.dim);
const concurrency = Number(args.concurrency);
const steadyMs = Number(args['steady-seconds']) * 1000;
const BUCKET = 'lightrank-bench';
const PREFIX = 'snapshots';
const MODEL = 'bench';

const t = () => performance.now();
const log = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

const work = await mkdtemp(path.join(tmpdir(), 'lightrank-bench-sidecar-'));
const s3 = await startS3Server();
const procs: RepoProcess[] = [];
try {
  await s3.createBucket(BUCKET);
  const local = path.join(work, 'storage');
  const dataDir = path.join(work, 'volume');
  const model = await writeModel(path.join(work, 'model'), 11, dim);
  await putFile(s3.client, BUCKET, 'models/query.onnx', model.file);

  let t0 = t();
  for (const v of ['v1', 'v2']) await writeLargeSnapshot(local, v, model.fingerprint, rows, dim);
  const mb = (rows * 2 * dim * 4 + rows * 8) / 1e6;
  log(
    `wrote v1 and v2 locally: ${rows} items × 2 tasks × ${dim} dims float32, ${mb.toFixed(0)} MB each (${((t() - t0) / 1000).toFixed(1)} s)`,
  );
  t0 = t();
  await publishToS3(s3.client, BUCKET, PREFIX, local, 'v2');
  await publishToS3(s3.client, BUCKET, PREFIX, local, 'v1'); // LATEST = v1
  log(`uploaded both to moto (${((t() - t0) / 1000).toFixed(1)} s)`);

  const sidecar = await RepoProcess.sidecar({
    ...s3.env,
    LOG_LEVEL: 'info',
    LIGHTRANK_DATA_DIR: dataDir,
    LIGHTRANK_MODEL_URI: `s3://${BUCKET}/models/query.onnx`,
    LIGHTRANK_MODEL_SHA256: model.sha256,
    LIGHTRANK_MODEL_VERSION: 'm1',
    LIGHTRANK_SNAPSHOT_URI: `s3://${BUCKET}/${PREFIX}`,
    LIGHTRANK_SNAPSHOT_POLL_SECONDS: '0.5',
  });
  procs.push(sidecar);
  const published = (v: string) =>
    sidecar.logs.find((l) => l.msg === 'snapshot published' && l.version === v) as
      { seconds: number; downloadSeconds: number; bytes: number; time: string } | undefined;
  await waitFor('sidecar publishes v1', () => published('v1'), 600_000);
  const v1 = published('v1')!;
  log(
    `sync v1: ${v1.seconds.toFixed(2)} s (download with sha256: ${v1.downloadSeconds.toFixed(2)} s, then validation + publish)`,
  );

  const server = await RepoProcess.server({
    LOG_LEVEL: 'info',
    LIGHTRANK_DATA_DIR: dataDir,
    LIGHTRANK_MODEL_NAME: MODEL,
    LIGHTRANK_HOST: '127.0.0.1',
    LIGHTRANK_RELOAD_POLL_MS: '200',
    LIGHTRANK_WORKERS: args.workers!,
  });
  procs.push(server);
  t0 = t();
  await waitFor('server ready on v1', () => server.ready(), 600_000);
  log(`server ready on v1 (${((t() - t0) / 1000).toFixed(1)} s after start)`);

  const candidates = Array.from({ length: Number(args.candidates) }, (_, i) => 1 + ((i * 4_999) % rows));
  const body = { query: { dense: [0.1, -0.2, 0.3, 0.4], categorical: [3, 7] }, candidates };
  const url = `${server.url}/v1/models/${MODEL}/rank`;

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const run = async (ms: number): Promise<LoadResult> => {
    const load = startLoad(url, body, { concurrency, maxMs: ms + 60_000 });
    await sleep(ms);
    return load.stop();
  };
  await run(2000); // warm-up
  const steady = await run(steadyMs);
  const steadyMsList = steady.samples.map((x) => x.ms);
  log(
    `steady on v1: ${steady.ok} requests, p50 ${fmt(percentile(steadyMsList, 50))}, p99 ${fmt(percentile(steadyMsList, 99))}, failed ${steady.failed.length}`,
  );

  const load = startLoad(url, body, { concurrency, maxMs: 600_000 });
  await sleep(1000);
  const flipAt = t();
  await setLatestS3(s3.client, BUCKET, PREFIX, 'v2');
  await waitFor('answers from v2', () => load.result.versions.get('v2'), 600_000);
  await sleep(2000);
  const swap = await load.stop();
  const epoch = (at: number) => performance.timeOrigin + at;
  const v2 = published('v2')!;
  const publishedAt = Date.parse(v2.time);
  const firstV2 = swap.samples.find((x) => x.snapshotVersion === 'v2')!;
  const switchedAt = firstV2.at + firstV2.ms;
  const during = swap.samples.filter((x) => x.at >= flipAt && x.at <= switchedAt).map((x) => x.ms);
  const syncSide = swap.samples.filter((x) => x.at >= flipAt && epoch(x.at) < publishedAt).map((x) => x.ms);
  const serverSide = swap.samples
    .filter((x) => epoch(x.at) >= publishedAt && x.at <= switchedAt)
    .map((x) => x.ms);
  const after = swap.samples.filter((x) => x.at > switchedAt).map((x) => x.ms);
  const p99Steady = percentile(steadyMsList, 99);
  const p99During = percentile(during, 99);

  console.log('');
  console.log(
    `snapshot: ${rows} items × 2 tasks × ${dim} dims float32 (${mb.toFixed(0)} MB), S3 = moto on loopback`,
  );
  const phases = (p: { seconds: number; downloadSeconds: number }) =>
    `download + sha256 ${p.downloadSeconds.toFixed(2)} s, validate + publish ${(p.seconds - p.downloadSeconds).toFixed(2)} s`;
  console.log(
    `sync v1 (sidecar, idle server):                        ${v1.seconds.toFixed(2)} s (${phases(v1)})`,
  );
  console.log(
    `sync v2 (sidecar, server under load):                   ${v2.seconds.toFixed(2)} s (${phases(v2)}; ${(v2.bytes / 1e6 / v2.seconds).toFixed(0)} MB/s)`,
  );
  console.log(
    `LATEST flip → sidecar published v2:                     ${((publishedAt - epoch(flipAt)) / 1000).toFixed(2)} s`,
  );
  console.log(
    `sidecar published v2 → server's first v2 answer:        ${((epoch(switchedAt) - publishedAt) / 1000).toFixed(2)} s (server load + switch)`,
  );
  const reload = server.logs.find((l) => l.msg === 'switched to new version' && l.snapshot === 'v2') as
    { stages?: Record<string, number> } | undefined;
  const stages = Object.entries(reload?.stages ?? {}).map(([k, s]) => `${k} ${s.toFixed(2)} s`);
  console.log(`server reload stages (v2):                             ${stages.join(', ') || 'not logged'}`);
  console.log(
    `LATEST flip → server's first v2 answer:                 ${((switchedAt - flipAt) / 1000).toFixed(2)} s`,
  );
  console.log(
    `requests: steady ${steady.ok}, during swap ${during.length}, failed ${steady.failed.length + swap.failed.length}`,
  );
  console.log(
    `p50 steady ${fmt(percentile(steadyMsList, 50))} | during swap ${fmt(percentile(during, 50))} | after ${fmt(percentile(after, 50))}`,
  );
  console.log(
    `p99 steady ${fmt(p99Steady)} | during swap ${fmt(p99During)} (sidecar sync part: ${fmt(percentile(syncSide, 99))}, server load part: ${fmt(percentile(serverSide, 99))}) | after ${fmt(percentile(after, 99))}`,
  );
  console.log(
    `goals: 0 failed requests → ${steady.failed.length + swap.failed.length === 0 ? 'met' : 'MISSED'}; p99 during swap ≤ 2× steady → ${(p99During / p99Steady).toFixed(2)}× ${p99During <= 2 * p99Steady ? 'met' : 'MISSED'}`,
  );
  if (swap.failed.length > 0) console.log(`first failures: ${JSON.stringify(swap.failed.slice(0, 3))}`);
  const current = await readlink(path.join(dataDir, 'snapshot/current'));
  if (current !== 'v2') throw new Error(`snapshot/current is ${current}, expected v2`);
} finally {
  for (const p of procs.reverse()) await p.stop();
  await s3.stop();
  await rm(work, { recursive: true, force: true });
}
