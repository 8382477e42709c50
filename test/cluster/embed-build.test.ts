// The offline item tower on the cluster: a RankingModel whose snapshot is built. Given a 200,000-
// item Parquet catalogue and the item tower on the S3 test server, the operator runs a 4-shard
// Indexed Job whose pods run `lightrank embed shard` on the local node agent (as processes), then
// the publish Job; one shard's pod is killed mid-run and that index alone is retried. Then the
// published snapshot equals the model kit's in-process item tower (max |Δ| ≤ 1e-6) and the
// scoring pod serves it. A corrupt Parquet file, a NaN feature and duplicate ids across shards
// each fail their build with the cause in status and an Event, LATEST unmoved.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { parquetWriteFile } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { API_GROUP, API_VERSION, PLURAL } from '../../api/rankingmodel.js';
import { localAddressOf } from '../../agent/addresses.js';
import { buildItemSnapshot, buildTowers } from '../../modelkit/bundle.js';
import { catalogueColumns, writeParquetCatalogue } from '../../modelkit/catalogue-parquet.js';
import { modelConfig } from '../../modelkit/config.js';
import { rankingModel } from '../../operator/testing.js';
import { createModel, modelStatus, sha256Of, snapshotBuildOf, useEmbedCluster } from './embed-fixture.js';
import { openSnapshot } from '../../snapshot/reader.js';
import { writeLatest, writeSnapshot } from '../../snapshot/writer.js';
import { putFile } from '../sidecar/helpers/s3-publish.js';
import { clients, useTestNamespace, waitFor } from '../harness/cluster.js';

const ns = useTestNamespace('embed-build');
const BUCKET = 'lightrank-embed';
const ITEMS = 200_000;
const SEED = 42;
const config = modelConfig({ seed: SEED });
const shape = { numDense: config.item.numDense, numCategorical: config.item.numCategorical };
const columns = catalogueColumns(shape);
const fx = useEmbedCluster(ns, {
  name: 'embed',
  bucket: BUCKET,
  config,
  catalogue: { items: ITEMS, seed: SEED, files: 8, rowGroupSize: 12_500 },
});

/** A model serving the kit's query tower, its snapshot built from `catalogue` into `prefix`. */
function builtModel(
  name: string,
  prefix: string,
  catalogue: { uri: string; files?: string[] },
  shards: number,
  replicas: number,
) {
  return rankingModel(name, ns.name, {
    model: fx.towerPair(),
    snapshot: {
      uri: pathToFileURL(prefix).href,
      pollIntervalSeconds: 1,
      build: {
        catalogue,
        shards,
        backoffLimitPerIndex: 2,
        env: Object.entries(fx.s3.env).map(([n, value]) => ({ name: n, value })),
        pods: { executionProvider: 'cpu', ...fx.placement },
      },
    },
    serving: { executionProvider: 'cpu', ...fx.placement },
    segments: [{ name: 'main', replicas }],
  });
}

const apply = (body: ReturnType<typeof builtModel>) => createModel(ns.name, body);
const statusOf = (name: string) => modelStatus(ns.name, name);
const buildOf = (name: string) => snapshotBuildOf(ns.name, name);

async function buildPods(job: string): Promise<V1Pod[]> {
  const pods = await clients().core.listNamespacedPod({
    namespace: ns.name,
    labelSelector: `batch.kubernetes.io/job-name=${job}`,
  });
  return pods.items;
}

const indexOf = (p: V1Pod) => p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'];

describe('a snapshot built on the cluster', () => {
  it('4 shards of 200,000 items from S3 (one shard killed mid-run, retried alone) → published, equal to the in-process item tower, served', async () => {
    const prefix = join(fx.runDir, 'snapshots', 'ads');
    await apply(builtModel('ads', prefix, { uri: `s3://${BUCKET}/catalogue` }, 4, 1));

    // SnapshotBuilding with progress while the shards run
    const building = await waitFor(
      'SnapshotBuilding=True',
      async () =>
        (await statusOf('ads'))?.conditions?.find(
          (c) => c.type === 'SnapshotBuilding' && c.status === 'True',
        ),
      { timeoutMs: 60_000 },
    );
    expect(building.reason).toBe('BuildRunning');
    expect(building.message).toMatch(/segment main: building \S+, \d\/4 shards done/);
    const job = (await buildOf('ads'))!.job;

    // kill shard 1's process as soon as it runs
    const victim = await waitFor(
      'shard 1 running',
      async () => {
        const pod = (await buildPods(job)).find((p) => indexOf(p) === '1');
        const id = pod?.status?.containerStatuses?.[0]?.containerID ?? '';
        const pid = Number(/^local-process:\/\/(\d+)$/.exec(id)?.[1]);
        return Number.isInteger(pid) && pod?.status?.phase === 'Running' ? { pod, pid } : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    process.kill(victim.pid, 'SIGKILL');

    const published = await waitFor(
      'the build published',
      async () => {
        const b = await buildOf('ads');
        if (b?.phase === 'Failed') throw new Error(`build failed: ${b.message}`);
        return b?.phase === 'Published' ? b : undefined;
      },
      { timeoutMs: 400_000, intervalMs: 500 },
    );
    expect(published.shardsDone).toBe(4);
    // index 1 alone ran twice; every other index once
    const pods = await buildPods(job);
    const perIndex = new Map<string, number>();
    for (const p of pods) perIndex.set(indexOf(p)!, (perIndex.get(indexOf(p)!) ?? 0) + 1);
    expect(Object.fromEntries(perIndex)).toEqual({ '0': 1, '1': 2, '2': 1, '3': 1 });
    expect(pods.find((p) => p.metadata?.name === victim.pod.metadata?.name)?.status?.phase).toBe('Failed');

    expect((await readFile(join(prefix, 'LATEST'), 'utf8')).trim()).toBe(published.version);
    const got = await openSnapshot(join(prefix, published.version));
    expect(got.manifest.parts).toHaveLength(4);
    expect(got.rows).toBe(ITEMS);
    const reference = join(fx.runDir, 'reference');
    await buildItemSnapshot({
      itemModel: fx.towers.itemModel,
      prefix: reference,
      version: 'ref',
      items: ITEMS,
      seed: SEED,
    });
    const want = await openSnapshot(join(reference, 'ref'));
    const rows = got.lookup(want.ids);
    let maxDelta = 0;
    const a = want.embeddings as Float32Array;
    const b = got.embeddings as Float32Array;
    const width = want.tasks.length * want.dim;
    for (let i = 0; i < want.rows; i++) {
      expect(rows[i]).toBeGreaterThanOrEqual(0);
      const ra = i * width;
      const rb = rows[i]! * width;
      for (let k = 0; k < width; k++) maxDelta = Math.max(maxDelta, Math.abs(a[ra + k]! - b[rb + k]!));
    }
    expect(maxDelta).toBeLessThanOrEqual(1e-6);

    // the scoring pod serves the built version
    const serving = await waitFor<V1Pod>(
      'a scoring pod serving the built snapshot',
      async () => {
        const list = await clients().core.listNamespacedPod({
          namespace: ns.name,
          labelSelector: 'lightrank.dev/model=ads,lightrank.dev/segment=main',
        });
        for (const p of list.items) {
          const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
          if (!p.status?.podIP || !ready) continue;
          // the server's own word: its metrics name the snapshot it serves
          const res = await fetch(`http://${localAddressOf(p.status.podIP)}:8080/metrics`);
          const text = await res.text();
          const line = text.split('\n').find((l) => l.includes('snapshot_version_info{'));
          if (line?.includes(`version="${published.version}"`) && line.endsWith(' 1')) return p;
        }
        return undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    ).catch(async (err: unknown) => {
      const list = await clients().core.listNamespacedPod({
        namespace: ns.name,
        labelSelector: 'lightrank.dev/model=ads',
      });
      const seen = list.items.map((p) => ({
        name: p.metadata?.name,
        node: p.spec?.nodeName,
        phase: p.status?.phase,
        annotations: p.metadata?.annotations,
        containers: p.status?.containerStatuses?.map((c) => ({
          name: c.name,
          ready: c.ready,
          state: c.state,
        })),
      }));
      throw new Error(`${String(err)}; pods: ${JSON.stringify(seen)}`);
    });
    expect(serving.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).toBe(true);
    const done = (await statusOf('ads'))?.conditions?.find((c) => c.type === 'SnapshotBuilding');
    expect(done).toMatchObject({ status: 'False', reason: 'BuildPublished' });
  }, 700_000);

  it('a new tower pair: its snapshot is built first, then the canary runs, then it is promoted', async () => {
    const next = await buildTowers({
      dir: join(fx.runDir, 'model-2'),
      config: modelConfig({ seed: SEED + 1 }),
    });
    expect(next.fingerprint).not.toBe(fx.towers.fingerprint);
    await putFile(fx.s3.client, BUCKET, 'towers/item-2.onnx', next.itemModel);
    const before = await buildOf('ads');
    await clients().custom.patchNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      name: 'ads',
      body: [
        {
          op: 'replace',
          path: '/spec/model',
          value: {
            uri: pathToFileURL(next.queryModel).href,
            sha256: next.querySha256,
            version: 'v2',
            towerFingerprint: next.fingerprint,
            tasks: config.tasks,
            itemTower: { uri: `s3://${BUCKET}/towers/item-2.onnx`, sha256: await sha256Of(next.itemModel) },
          },
        },
        {
          op: 'add',
          path: '/spec/rollout',
          value: {
            steps: [
              { weight: 50, pauseSeconds: 2 },
              { weight: 100, pauseSeconds: 0 },
            ],
            scaleDownDelaySeconds: 0,
          },
        },
      ],
    });
    // while the new item tower's snapshot is built, no canary of the new query tower exists
    let canaryWhileBuilding = false;
    const built = await waitFor(
      'the new pair’s snapshot published',
      async () => {
        const b = await buildOf('ads');
        if (b?.phase === 'Failed') throw new Error(`build failed: ${b.message}`);
        const canary = await clients()
          .apps.readNamespacedDeployment({ name: 'ads-main-canary', namespace: ns.name })
          .catch(() => undefined);
        // (Publishing → Published and the canary's creation happen in one pass, after the publish
        // Job: a canary seen while the shards still run is the gate failing)
        if (b?.version !== before?.version && b?.phase === 'Building' && canary) canaryWhileBuilding = true;
        return b?.version !== before?.version && b?.phase === 'Published' ? b : undefined;
      },
      { timeoutMs: 400_000, intervalMs: 200 },
    );
    expect(built.trigger).toBe('ModelChange');
    expect(built.towerFingerprint).toBe(next.fingerprint);
    expect(canaryWhileBuilding).toBe(false);
    const canary = await waitFor('the canary Deployment', () =>
      clients().apps.readNamespacedDeployment({ name: 'ads-main-canary', namespace: ns.name }),
    );
    expect(new Date(canary.metadata!.creationTimestamp!).getTime()).toBeGreaterThanOrEqual(
      Date.parse(built.completionTime!),
    );
    // then the canary, then the promotion: the stable runs v2 on the new snapshot
    const seen = new Set<string>();
    await waitFor(
      'v2 promoted',
      async () => {
        const seg = (await statusOf('ads'))?.segments?.find((x) => x.name === 'main');
        seen.add(`${seg?.rolloutPhase}/${seg?.canaryWeight}`);
        return seg?.rolloutPhase === 'Stable' && seg.stableVersion === 'v2';
      },
      { timeoutMs: 300_000, intervalMs: 200 },
    );
    expect([...seen]).toContain('Progressing/50');
    expect((await readFile(join(fx.runDir, 'snapshots', 'ads', 'LATEST'), 'utf8')).trim()).toBe(
      built.version,
    );
  }, 800_000);

  describe('a bad build is refused with its cause; LATEST stays on the old version', () => {
    const old = async (prefix: string) => {
      await writeSnapshot(join(prefix, 'old'), {
        snapshotVersion: 'old',
        towerFingerprint: fx.towers.fingerprint,
        tasks: config.tasks,
        dim: config.dim,
        dtype: 'float32',
        ids: new BigUint64Array([1n, 2n]),
        embeddings: new Float32Array(2 * config.tasks.length * config.dim),
      });
      await writeLatest(prefix, 'old');
    };

    const cases: [string, (dir: string) => Promise<string[] | undefined>, number, RegExp][] = [
      [
        'a corrupt Parquet file',
        async (dir) => {
          const files = await writeParquetCatalogue({ dir, items: 1000, seed: 3, shape, files: 2 });
          await writeFile(files[1]!, Buffer.from('PAR1 this is not a parquet file PAR1'));
          return undefined;
        },
        1,
        /shard 0 failed: .*part-00001\.parquet: not a readable Parquet file .*\(exit code 2\)/,
      ],
      [
        'a NaN feature',
        async (dir) => {
          await writeParquetCatalogue({ dir, items: 200, seed: 5, shape });
          const n = 10;
          parquetWriteFile({
            filename: join(dir, 'z-bad.parquet'),
            columnData: [
              {
                name: 'id',
                data: Array.from({ length: n }, (_, i) => BigInt(9_000_000 + i)),
                type: 'INT64',
              },
              ...columns.dense.map((name, j) => ({
                name,
                data: Array.from({ length: n }, (_, r) => (r === 4 && j === 0 ? Number.NaN : 0.25)),
                type: 'FLOAT' as const,
              })),
              ...columns.categorical.map((name) => ({
                name,
                data: Array.from({ length: n }, () => 1n),
                type: 'INT64' as const,
              })),
            ],
          });
          return undefined;
        },
        1,
        /shard 0 failed: .*z-bad\.parquet: row group 0, row 4: dense feature "dense_0" is NaN/,
      ],
      [
        'the same ids in two shards',
        async (dir) => {
          await writeParquetCatalogue({ dir: join(dir, 'a'), items: 300, seed: 8, shape });
          await writeParquetCatalogue({ dir: join(dir, 'b'), items: 300, seed: 8, shape });
          return ['a/part-00000.parquet', 'b/part-00000.parquet'];
        },
        2,
        /publish refused: item id \d+ is in part 0 and in part 1/,
      ],
    ];

    it.each(cases)(
      '%s',
      async (what, write, shards, cause) => {
        const name = `bad-${cases.findIndex((c) => c[0] === what)}`;
        const dir = join(fx.runDir, 'catalogues', name);
        const prefix = join(fx.runDir, 'snapshots', name);
        const files = await write(dir);
        await old(prefix);
        await apply(
          builtModel(name, prefix, { uri: pathToFileURL(dir).href, ...(files ? { files } : {}) }, shards, 0),
        );
        const failed = await waitFor(
          `${name}: the build failed`,
          async () => {
            const b = await buildOf(name);
            if (b?.phase === 'Published') throw new Error('published a bad build');
            return b?.phase === 'Failed' ? b : undefined;
          },
          { timeoutMs: 240_000, intervalMs: 500 },
        );
        expect(failed.message).toMatch(cause);
        expect(failed.message).toContain('LATEST not moved');
        expect((await readFile(join(prefix, 'LATEST'), 'utf8')).trim()).toBe('old');
        const condition = (await statusOf(name))?.conditions?.find((c) => c.type === 'SnapshotBuilding');
        expect(condition).toMatchObject({ status: 'False', reason: 'BuildFailed' });
        const events = await clients().core.listNamespacedEvent({ namespace: ns.name });
        const event = events.items.find(
          (e) => e.involvedObject.name === name && e.reason === 'SnapshotBuildFailed',
        );
        expect(event?.message).toMatch(cause);
      },
      300_000,
    );
  });
});
