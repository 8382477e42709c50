// A build's items/s: the finished shards report their item counts in their termination messages
// (embed/main.ts); the operator sums one report per completion index over the seconds since the
// build started, ignores what is no report, and says it in status and the SnapshotBuilding message.
import { describe, expect, it } from 'vitest';
import { RankingModelSchema, type SnapshotBuildStatus } from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';
import { builtSpec } from '../../api/testing.js';
import type { Logger } from '../../lib/logger.js';
import type { KubeObject } from '../runtime/kube/types.js';
import { SnapshotBuilds, type BuildDeps } from './builds.js';
import { buildVersion, shardJobName, type Job } from './objects.js';
import { withBuildStatus } from './status.js';

const START = new Date('2026-12-06T02:00:00Z');

function model(build: SnapshotBuildStatus) {
  const spec = builtSpec();
  return RankingModelSchema.parse({
    apiVersion: 'lightrank.dev/v1alpha1',
    kind: 'RankingModel',
    metadata: { name: 'ads', namespace: 'ml', uid: 'u-1', generation: 1 },
    spec,
    status: { segments: [{ name: 'main', replicas: 1, snapshotBuild: build }] },
  });
}

function pod(index: number, phase: string, message?: string, job = 'JOB'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `p-${index}-${phase}`,
      namespace: 'ml',
      labels: { 'batch.kubernetes.io/job-name': job },
      annotations: { 'batch.kubernetes.io/job-completion-index': String(index) },
    },
    status: {
      phase,
      ...(message !== undefined
        ? { containerStatuses: [{ name: 'embed', state: { terminated: { exitCode: 0, message } } }] }
        : {}),
    },
  };
}

const log = { info() {}, warn() {}, child: () => log } as unknown as Logger;

async function pass(pods: KubeObject[], jobStatus: Job['status'], seconds: number) {
  const spec = builtSpec();
  const version = buildVersion(spec.model!.itemTower!.sha256, START);
  const name = shardJobName('ads', 'main', version);
  const building: SnapshotBuildStatus = {
    version,
    towerFingerprint: spec.model!.towerFingerprint,
    itemTowerSha256: spec.model!.itemTower!.sha256,
    trigger: 'ModelChange',
    phase: 'Building',
    job: name,
    shards: 4,
    shardsDone: 0,
    startTime: START.toISOString().replace(/\.\d{3}/, ''),
  };
  const m = model(building);
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'ml' },
    spec: {},
    status: jobStatus,
  };
  const deps = {
    owned: { peek: () => job, apply: async () => {}, list: async () => [] },
    pods: {
      list: (f: (p: KubeObject) => boolean) =>
        pods
          .map((p) => ({
            ...p,
            metadata: { ...p.metadata, labels: { 'batch.kubernetes.io/job-name': name } },
          }))
          .filter(f),
    },
    events: { record: async () => {} },
    defaults: {},
  } as unknown as BuildDeps;
  const segs = resolveSegments(m.spec, { image: 'img:1' });
  const out = await new SnapshotBuilds(deps).reconcile(
    m,
    segs,
    m as never,
    log,
    new Date(START.getTime() + seconds * 1000),
  );
  return { m, build: out.builds.get('main')! };
}

describe('a build’s items/s', () => {
  it('sums one report per finished index over the seconds since the start; ignores what is no report', async () => {
    const { m, build } = await pass(
      [
        pod(0, 'Succeeded', '{"items":60000,"rowGroups":5,"seconds":20.5}\n'),
        pod(1, 'Failed', 'embed: s3 unreachable'), // an earlier try of index 1
        pod(1, 'Running'),
        pod(2, 'Succeeded', '{"items":40000,"rowGroups":3,"seconds":18}'),
        pod(3, 'Succeeded', 'not json'), // an image that does not report
      ],
      { completedIndexes: '0,2-3', active: 1 },
      25,
    );
    expect(build).toMatchObject({
      phase: 'Building',
      shardsDone: 3,
      itemsDone: 100_000,
      itemsPerSecond: 4_000,
    });
    const status = withBuildStatus(
      { segments: [{ name: 'main', replicas: 1 } as never] },
      m,
      new Map([['main', build]]),
      [],
      new Date(),
    );
    expect(status.conditions?.find((c) => c.type === 'SnapshotBuilding')?.message).toBe(
      `segment main: building ${build.version}, 3/4 shards done, 100000 items, 4000 items/s`,
    );
  });

  it('says nothing of items until a shard has reported', async () => {
    const { build } = await pass(
      [pod(0, 'Running'), pod(1, 'Succeeded')],
      { completedIndexes: '1', active: 3 },
      5,
    );
    expect(build.shardsDone).toBe(1);
    expect(build.itemsDone).toBeUndefined();
    expect(build.itemsPerSecond).toBeUndefined();
  });

  it('names a shard pod that cannot start (a missing Secret) in the build and its condition', async () => {
    const stuck = pod(2, 'Pending');
    stuck.status = {
      phase: 'Pending',
      containerStatuses: [
        {
          name: 'embed',
          state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "store" not found' } },
        },
      ],
    };
    const { m, build } = await pass([pod(0, 'Running'), stuck], { active: 4 }, 5);
    expect(build.message).toBe('shard 2 cannot start: CreateContainerConfigError: secret "store" not found');
    const status = withBuildStatus(
      { segments: [{ name: 'main', replicas: 1 } as never] },
      m,
      new Map([['main', build]]),
      [],
      new Date(),
    );
    expect(status.conditions?.find((c) => c.type === 'SnapshotBuilding')?.message).toContain(
      '0/4 shards done; shard 2 cannot start: CreateContainerConfigError: secret "store" not found',
    );
    // once it is gone, so is the message
    const { build: later } = await pass([pod(0, 'Running'), pod(2, 'Running')], { active: 4 }, 6);
    expect(later.message).toBeUndefined();
  });
});
