// A superseded build's publish, refused because LATEST names a newer build (embed/latest-order.ts),
// is reported once: a Warning Event SnapshotPublishSuperseded with the publish pod's own words,
// then its Job deleted, so the next pass has nothing to report again; the current build's status
// is left as it is. A failed publish of the current build is the build's failure (BuildFailed path),
// and an older publish Job that succeeded, or one of another model or segment, is left alone. A
// build still running when a newer one started has its shard Job stopped (deleted), once.
import { describe, expect, it } from 'vitest';
import { EventReason } from '../../api/conditions.js';
import { RankingModelSchema, type SnapshotBuildStatus } from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';
import { builtSpec } from '../../api/testing.js';
import type { Logger } from '../../lib/logger.js';
import type { KubeObject } from '../runtime/kube/types.js';
import { SnapshotBuilds, type BuildDeps } from './builds.js';
import {
  LABEL_BUILD_SEGMENT,
  LABEL_BUILD_STEP,
  LABEL_BUILD_VERSION,
  buildVersion,
  publishJobName,
  shardJobName,
  type Job,
} from './objects.js';

const log = { info() {}, warn() {}, child: () => log } as unknown as Logger;
const spec = builtSpec();
const sha = spec.model!.itemTower!.sha256;
const OLDER = buildVersion('0123456789abcdef', new Date('2026-12-06T01:00:00Z'));
const CURRENT = buildVersion(sha, new Date('2026-12-06T02:00:00Z'));
const REFUSAL = `superseded: s3://snapshots/ads/LATEST names ${CURRENT}, a build that started after ${OLDER}; publishing ${OLDER} would move LATEST back to an older snapshot, so it does not`;

const model = () =>
  RankingModelSchema.parse({
    apiVersion: 'lightrank.dev/v1alpha1',
    kind: 'RankingModel',
    metadata: { name: 'ads', namespace: 'ml', uid: 'u-1', generation: 1 },
    spec,
    status: {
      segments: [
        {
          name: 'main',
          replicas: 1,
          snapshotBuild: {
            version: CURRENT,
            towerFingerprint: spec.model!.towerFingerprint,
            itemTowerSha256: sha,
            trigger: 'ModelChange',
            phase: 'Published',
            job: shardJobName('ads', 'main', CURRENT),
            shards: 4,
            shardsDone: 4,
            startTime: '2026-12-06T02:00:00Z',
            completionTime: '2026-12-06T02:05:00Z',
            message: 'published',
          } satisfies SnapshotBuildStatus,
        },
      ],
    },
  });

function publishJob(
  version: string,
  condition: 'Failed' | 'Complete',
  o: { segment?: string; uid?: string } = {},
) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: publishJobName('ads', o.segment ?? 'main', version),
      namespace: 'ml',
      labels: {
        [LABEL_BUILD_SEGMENT]: o.segment ?? 'main',
        [LABEL_BUILD_STEP]: 'publish',
        [LABEL_BUILD_VERSION]: version,
      },
      ownerReferences: [{ uid: o.uid ?? 'u-1' }],
    },
    spec: {},
    status: { conditions: [{ type: condition, status: 'True' }] },
  } as unknown as Job;
}

/** A shard Job: running (no condition), or finished. */
function shardJob(version: string, condition?: 'Failed' | 'Complete', o: { uid?: string } = {}) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: shardJobName('ads', 'main', version),
      namespace: 'ml',
      labels: { [LABEL_BUILD_SEGMENT]: 'main', [LABEL_BUILD_STEP]: 'shard', [LABEL_BUILD_VERSION]: version },
      ownerReferences: [{ uid: o.uid ?? 'u-1' }],
    },
    spec: {},
    status: {
      completedIndexes: '0-1',
      ...(condition ? { conditions: [{ type: condition, status: 'True' }] } : {}),
    },
  } as unknown as Job;
}

const failedPod = (job: Job): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: `${job.metadata.name}-x`,
    namespace: 'ml',
    labels: { 'batch.kubernetes.io/job-name': job.metadata.name },
  },
  status: {
    phase: 'Failed',
    containerStatuses: [
      { name: 'embed', state: { terminated: { exitCode: 2, message: `embed: ${REFUSAL}\n` } } },
    ],
  },
});

/** One reconcile pass over these Jobs (a fake cache); what it recorded and deleted. */
async function pass(jobs: Job[]) {
  const events: { type: string; reason: string; message: string }[] = [];
  const deleted: string[] = [];
  const m = model();
  const deps = {
    owned: {
      peek: () => undefined,
      apply: async () => {},
      list: async (_ref: unknown, _ns: string, _selector: string, filter: (o: Job) => boolean) =>
        jobs.filter((j) => !deleted.includes(j.metadata.name)).filter(filter),
      deleteIfPresent: async (_ref: unknown, _ns: string, name: string) => {
        deleted.push(name);
        return true;
      },
    },
    pods: { list: (f: (p: KubeObject) => boolean) => jobs.map(failedPod).filter(f) },
    events: { record: async (_r: unknown, e: (typeof events)[number]) => void events.push(e) },
    defaults: {},
  } as unknown as BuildDeps;
  const builds = new SnapshotBuilds(deps);
  const segs = resolveSegments(m.spec, { image: 'img:1' });
  const out = await builds.reconcile(m, segs, m as never, log, new Date('2026-12-06T02:06:00Z'));
  return {
    events,
    deleted,
    build: out.builds.get('main')!,
    again: () => builds.reconcile(m, segs, m as never, log, new Date()),
  };
}

describe('a superseded build’s publish', () => {
  it('is reported once, with the pod’s words, and its Job deleted; the current build is untouched', async () => {
    const refused = publishJob(OLDER, 'Failed');
    const { events, deleted, build } = await pass([refused]);
    expect(events).toEqual([
      {
        type: 'Warning',
        reason: EventReason.SnapshotPublishSuperseded,
        message: `segment main: snapshot ${OLDER}, superseded by ${CURRENT}: publish refused: ${REFUSAL} (exit code 2); LATEST not moved`,
      },
    ]);
    expect(deleted).toEqual([refused.metadata.name]);
    expect(build).toMatchObject({ version: CURRENT, phase: 'Published', message: 'published' });
  });

  it('is reported no more once its Job is gone', async () => {
    const refused = publishJob(OLDER, 'Failed');
    const first = await pass([refused]);
    const count = first.events.length;
    await first.again();
    expect(first.events).toHaveLength(count);
    expect(first.deleted).toEqual([refused.metadata.name]);
  });

  it('leaves alone older publishes that succeeded, the current build’s, and other segments’ or models’', async () => {
    const { events, deleted } = await pass([
      publishJob(OLDER, 'Complete'),
      publishJob(CURRENT, 'Failed'),
      publishJob(OLDER, 'Failed', { segment: 'other' }),
      publishJob(OLDER, 'Failed', { uid: 'another-model' }),
    ]);
    expect(events).toEqual([]);
    expect(deleted).toEqual([]);
  });
});

describe('a superseded build still running', () => {
  it('has its shard Job deleted, with an Event naming both builds; finished or current Jobs and other models’ stay', async () => {
    const running = shardJob(OLDER);
    const { events, deleted, build, again } = await pass([
      running,
      shardJob(CURRENT),
      shardJob(OLDER, 'Complete'),
      shardJob(OLDER, 'Failed'),
      shardJob(OLDER, undefined, { uid: 'another-model' }),
    ]);
    expect(deleted).toEqual([running.metadata.name]);
    expect(events).toEqual([
      {
        type: 'Normal',
        reason: EventReason.SnapshotBuildSuperseded,
        message: `segment main: build of snapshot ${OLDER} stopped (2 shards done): superseded by ${CURRENT}; its Job ${running.metadata.name} deleted, LATEST not moved`,
      },
    ]);
    expect(build).toMatchObject({ version: CURRENT, phase: 'Published' });
    await again();
    expect(events).toHaveLength(1);
  });
});
