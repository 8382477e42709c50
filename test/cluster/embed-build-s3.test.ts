// A built snapshot published to S3, with the storage credentials from a Secret. Given a catalogue,
// the item tower and an empty snapshot prefix on the S3 test server, and a Secret holding the S3
// endpoint and keys (nothing of them in the RankingModel), the operator's shard Job stages its
// parts on S3 and the publish Job writes the version there and moves LATEST last: when LATEST first
// names the version, every one of its files is already there. The scoring pods' sidecar reads it
// with the same Secret and the server serves it. A build whose shard fails leaves that prefix's
// LATEST where it was. The Job pods and scoring pods run on the local node agent (as processes),
// which reads the Secret from the API server as a kubelet does. A superseded build's publish, run
// after the newer build published, is refused (LATEST stays), reported once in an Event, removed.
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { V1Pod } from '@kubernetes/client-node';
import { parquetWriteFile } from 'hyparquet-writer';
import { beforeAll, describe, expect, it } from 'vitest';
import { localAddressOf } from '../../agent/addresses.js';
import { catalogueColumns, writeParquetCatalogue } from '../../modelkit/catalogue-parquet.js';
import { modelConfig } from '../../modelkit/config.js';
import { buildVersion, LABEL_BUILD_VERSION, publishJobName, type Job } from '../../operator/build/objects.js';
import { rankingModel } from '../../operator/testing.js';
import { createModel, modelStatus, snapshotBuildOf, useEmbedCluster } from './embed-fixture.js';
import { putFile } from '../sidecar/helpers/s3-publish.js';
import { clients, useTestNamespace, waitFor } from '../harness/cluster.js';

const ns = useTestNamespace('embed-s3');
const BUCKET = 'lightrank-embed-s3';
const SECRET = 'snapshot-store';
const ITEMS = 40_000;
const SHARDS = 3;
const SEED = 17;
const config = modelConfig({ seed: SEED });
const shape = { numDense: config.item.numDense, numCategorical: config.item.numCategorical };
const columns = catalogueColumns(shape);
const fx = useEmbedCluster(ns, {
  name: 'embed-s3',
  bucket: BUCKET,
  config,
  catalogue: { items: ITEMS, seed: SEED, files: 3, rowGroupSize: 5_000 },
});

beforeAll(async () => {
  // the endpoint and the keys live in the Secret only
  await clients().core.createNamespacedSecret({
    namespace: ns.name,
    body: { metadata: { name: SECRET }, stringData: fx.s3.env },
  });
});

/** A model whose snapshot is built into s3://BUCKET/snapshots/<name>, credentials from SECRET. */
function s3Model(name: string, catalogue: string, replicas: number, secret = SECRET) {
  return rankingModel(name, ns.name, {
    model: fx.towerPair(),
    snapshot: {
      uri: `s3://${BUCKET}/snapshots/${name}`,
      pollIntervalSeconds: 1,
      credentials: { secretRef: { name: secret } },
      build: {
        catalogue: { uri: catalogue },
        shards: SHARDS,
        backoffLimitPerIndex: 1,
        pods: { executionProvider: 'cpu', ...fx.placement },
      },
    },
    serving: { executionProvider: 'cpu', ...fx.placement },
    segments: [{ name: 'main', replicas }],
  });
}

const apply = (body: ReturnType<typeof s3Model>) => createModel(ns.name, body);
const statusOf = (name: string) => modelStatus(ns.name, name);
const buildOf = (name: string) => snapshotBuildOf(ns.name, name);

async function text(key: string): Promise<string | undefined> {
  try {
    const res = await fx.s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return await res.Body!.transformToString();
  } catch (err) {
    if ((err as Error).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

async function objects(prefix: string): Promise<{ key: string; modified: number }[]> {
  const page = await fx.s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => ({ key: o.Key!, modified: o.LastModified!.getTime() }));
}

describe('a snapshot built and published to S3 with credentials from a Secret', () => {
  it('stages on S3, moves LATEST after every file of the version, and the scoring pods serve it', async () => {
    await apply(s3Model('ads', `s3://${BUCKET}/catalogue`, 1));

    // watch LATEST from the start: the first moment it names a version, that version is whole
    let atFirstSight: string[] | undefined;
    let latest: string | undefined;
    let watching = true;
    const deadline = Date.now() + 400_000;
    const watcher = (async () => {
      while (watching && latest === undefined && Date.now() < deadline) {
        latest = (await text('snapshots/ads/LATEST'))?.trim();
        if (latest) atFirstSight = (await objects(`snapshots/ads/${latest}/`)).map((o) => o.key);
        else await new Promise((r) => setTimeout(r, 50));
      }
    })().catch((err: unknown) => {
      // (a failed watch leaves atFirstSight unset, and the assertion on it fails)
      console.error(`watching LATEST: ${String(err)}`);
    });
    // the shard pods take the Secret as envFrom; no key is in their spec
    const building = await waitFor('the build running', async () => {
      const b = await buildOf('ads');
      return b?.phase === 'Building' ? b : undefined;
    });
    const shardPod = await waitFor('a shard pod', async () => {
      const pods = await clients().core.listNamespacedPod({
        namespace: ns.name,
        labelSelector: `batch.kubernetes.io/job-name=${building.job}`,
      });
      return pods.items[0];
    });
    const c = shardPod.spec!.containers[0]!;
    expect(c.envFrom).toEqual([{ secretRef: { name: SECRET } }]);
    expect(JSON.stringify(shardPod.spec)).not.toContain(fx.s3.env.AWS_SECRET_ACCESS_KEY);
    expect(c.args?.[c.args.indexOf('--prefix') + 1]).toBe(`s3://${BUCKET}/snapshots/ads`);

    const progress = new Set<string>();
    const published = await waitFor(
      'the build published',
      async () => {
        const st = await statusOf('ads');
        const b = st?.segments?.find((x) => x.name === 'main')?.snapshotBuild;
        const c = st?.conditions?.find((x) => x.type === 'SnapshotBuilding' && x.status === 'True');
        if (c) progress.add(c.message ?? '');
        if (b?.phase === 'Failed') throw new Error(`build failed: ${b.message}`);
        return b?.phase === 'Published' ? b : undefined;
      },
      { timeoutMs: 400_000, intervalMs: 200 },
    );
    // items/s from the shards' own reports (their termination messages), summed by the operator
    expect(published.itemsDone).toBe(ITEMS);
    expect(published.itemsPerSecond).toBeGreaterThan(0);
    expect(published.itemsPerSecond).toBeLessThanOrEqual(ITEMS);
    expect(published.message).toContain(`(${ITEMS} items; shards at ${published.itemsPerSecond} items/s)`);
    expect([...progress].some((m) => /\d+ items, \d+ items\/s/.test(m))).toBe(true);
    watching = false;
    await watcher;
    expect(published.shardsDone).toBe(SHARDS);
    expect(latest).toBe(published.version);
    const want = [
      'manifest.json',
      ...Array.from({ length: SHARDS }, (_, i) => {
        const n = String(i).padStart(5, '0');
        return [`part-${n}.embeddings.bin`, `part-${n}.ids.u64`];
      }).flat(),
    ].map((f) => `snapshots/ads/${published.version}/${f}`);
    expect(atFirstSight?.sort()).toEqual(want.sort());
    // LATEST was written after every file of the version (S3's own clock)
    const latestObj = (await objects('snapshots/ads/LATEST'))[0]!;
    for (const o of await objects(`snapshots/ads/${published.version}/`))
      expect(latestObj.modified).toBeGreaterThanOrEqual(o.modified);
    const manifest = JSON.parse((await text(`snapshots/ads/${published.version}/manifest.json`))!) as {
      rows: number;
      formatVersion: number;
      towerFingerprint: string;
    };
    expect(manifest).toMatchObject({
      rows: ITEMS,
      formatVersion: 3, // multi-part, files checked by blocks
      towerFingerprint: fx.towers.fingerprint,
    });
    // the staged parts are gone once LATEST moved
    await waitFor('the staging removed', async () =>
      (await objects('snapshots/ads/.staging/')).length === 0 ? true : undefined,
    );

    // the scoring pod's sidecar reads it from S3 with the same Secret; the server serves it
    await waitFor<V1Pod>(
      'a scoring pod serving the built snapshot',
      async () => {
        const list = await clients().core.listNamespacedPod({
          namespace: ns.name,
          labelSelector: 'lightrank.dev/model=ads,lightrank.dev/segment=main',
        });
        for (const p of list.items) {
          const ready = p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
          if (!p.status?.podIP || !ready) continue;
          const sync = p.spec?.containers.find((x) => x.name === 'sync');
          expect(sync?.envFrom).toEqual([{ secretRef: { name: SECRET } }]);
          const res = await fetch(`http://${localAddressOf(p.status.podIP)}:8080/metrics`);
          const line = (await res.text()).split('\n').find((l) => l.includes('snapshot_version_info{'));
          if (line?.includes(`version="${published.version}"`) && line.endsWith(' 1')) return p;
        }
        return undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
  }, 700_000);

  it('a superseded build’s publish, run after the newer build published, is refused, reported once and removed', async () => {
    // given 'ads' published by the test above: a publish Job of a build that started an hour
    // earlier (one a newer item tower superseded after its publish Job was created), run now
    const current = await buildOf('ads');
    expect(current?.phase).toBe('Published');
    const older = buildVersion(fx.itemSha256, new Date(Date.parse(current!.startTime) - 3_600_000));
    const theirs = (await clients().objects.read({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: publishJobName('ads', 'main', current!.version), namespace: ns.name },
    })) as unknown as Job & { spec: { template: { metadata: { labels: Record<string, string> } } } };
    const own = (labels: Record<string, string>) => ({
      ...Object.fromEntries(Object.entries(labels).filter(([k]) => !/controller-uid|job-name/.test(k))),
      [LABEL_BUILD_VERSION]: older,
    });
    const template = theirs.spec.template as {
      metadata: { labels: Record<string, string> };
      spec: { containers: { args: string[] }[] };
    };
    const args = [...template.spec.containers[0]!.args];
    args[args.indexOf('--version') + 1] = older;
    const name = publishJobName('ads', 'main', older);
    await clients().objects.create({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace: ns.name,
        labels: own(theirs.metadata.labels!),
        ownerReferences: theirs.metadata.ownerReferences,
      },
      spec: {
        completions: 1,
        backoffLimit: 2,
        podFailurePolicy: theirs.spec.podFailurePolicy,
        template: {
          metadata: { labels: own(template.metadata.labels) },
          spec: { ...template.spec, containers: [{ ...template.spec.containers[0]!, args }] },
        },
      },
    } as never);
    // then the Job fails at once (exit 2), the operator says so in a Warning Event and deletes it
    const event = await waitFor(
      'the SnapshotPublishSuperseded Event',
      async () =>
        (await clients().core.listNamespacedEvent({ namespace: ns.name })).items.find(
          (e) => e.reason === 'SnapshotPublishSuperseded',
        ),
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    expect(event.type).toBe('Warning');
    expect(event.message).toContain(
      `segment main: snapshot ${older}, superseded by ${current!.version}: publish refused: superseded: ` +
        `s3://${BUCKET}/snapshots/ads/LATEST names ${current!.version}, a build that started after ${older}`,
    );
    expect(event.message).toMatch(/\(exit code 2\); LATEST not moved$/);
    await waitFor('the refused Job deleted', async () =>
      clients()
        .objects.read({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: ns.name } })
        .then(
          () => undefined,
          () => true,
        ),
    );
    expect((await text('snapshots/ads/LATEST'))?.trim()).toBe(current!.version);
    expect(await objects(`snapshots/ads/${older}/`)).toEqual([]);
    expect(await buildOf('ads')).toMatchObject({ version: current!.version, phase: 'Published' });
    // reported once
    const again = (await clients().core.listNamespacedEvent({ namespace: ns.name })).items.filter(
      (e) => e.reason === 'SnapshotPublishSuperseded',
    );
    expect(again).toHaveLength(1);
    expect(again[0]!.count ?? 1).toBe(1);
  }, 300_000);

  it('a failed shard leaves LATEST on S3 where it was', async () => {
    // a good file and one with a NaN feature: the shard that reads the NaN fails its index at once
    const dir = join(fx.runDir, 'bad-catalogue');
    const good = await writeParquetCatalogue({ dir, items: 600, seed: 4, shape, rowGroupSize: 200 });
    const bad = join(dir, 'z-bad.parquet');
    parquetWriteFile({
      filename: bad,
      columnData: [
        { name: 'id', data: Array.from({ length: 8 }, (_, i) => BigInt(7_000_000 + i)), type: 'INT64' },
        ...columns.dense.map((name, j) => ({
          name,
          data: Array.from({ length: 8 }, (_, r) => (r === 3 && j === 0 ? Number.NaN : 0.5)),
          type: 'FLOAT' as const,
        })),
        ...columns.categorical.map((name) => ({
          name,
          data: Array.from({ length: 8 }, () => 2n),
          type: 'INT64' as const,
        })),
      ],
    });
    for (const f of [...good, bad])
      await putFile(fx.s3.client, BUCKET, `bad-catalogue/${f.split('/').pop()}`, f);
    await fx.s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'snapshots/bad/LATEST', Body: 'old\n' }),
    );
    await apply(s3Model('bad', `s3://${BUCKET}/bad-catalogue`, 0));
    const failed = await waitFor(
      'the build failed',
      async () => {
        const b = await buildOf('bad');
        if (b?.phase === 'Published' || b?.phase === 'Publishing') throw new Error('published a bad build');
        return b?.phase === 'Failed' ? b : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    expect(failed.message).toMatch(
      /shard \d failed: .*z-bad\.parquet: row group 0, row 3: dense feature "dense_0" is NaN .*\(exit code 2\); LATEST not moved/,
    );
    expect((await text('snapshots/bad/LATEST'))?.trim()).toBe('old');
    expect(await objects(`snapshots/bad/${failed.version}/`)).toEqual([]);
  }, 400_000);

  it('a credentials Secret that does not exist: the build says which shard cannot start and why', async () => {
    await apply(s3Model('nosecret', `s3://${BUCKET}/catalogue`, 0, 'no-such-secret'));
    const condition = await waitFor(
      'SnapshotBuilding naming the stuck shard',
      async () => {
        const c = (await statusOf('nosecret'))?.conditions?.find((x) => x.type === 'SnapshotBuilding');
        return c?.message?.includes('cannot start') ? c : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(condition.status).toBe('True');
    expect(condition.message).toMatch(
      /shard \d cannot start: CreateContainerConfigError: container "embed": secret "no-such-secret" not found/,
    );
    expect(await text('snapshots/nosecret/LATEST')).toBeUndefined();
  }, 200_000);
});
