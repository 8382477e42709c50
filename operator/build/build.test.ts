// Snapshot builds as pure functions: the Jobs (Indexed, per-index retries, bad input fails the
// index at once), the canary gate of a new tower pair, the index counting and the status.
import { describe, expect, it } from 'vitest';
import { RankingModelSchema, type SnapshotBuildStatus } from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';
import { builtSpec, SHA_B } from '../../api/testing.js';
import { EXIT_BAD_INPUT } from '../../embed/exit-codes.js';
import { countIndexes } from './builds.js';
import { gateSegments, waitsForSnapshot } from './gate.js';
import { buildPublishJob, buildShardJob, buildVersion, shardJobName } from './objects.js';
import { withBuildStatus } from './status.js';

function model(edit: (s: ReturnType<typeof builtSpec>) => void = () => {}) {
  const spec = builtSpec();
  spec.snapshot!.uri = 'file:///srv/snapshots/ads';
  edit(spec);
  return RankingModelSchema.parse({
    apiVersion: 'lightrank.dev/v1alpha1',
    kind: 'RankingModel',
    metadata: { name: 'ads', namespace: 'ml', uid: 'u-1', generation: 3 },
    spec,
  });
}
const segmentOf = (m: ReturnType<typeof model>) =>
  resolveSegments(m.spec, { image: 'lightrank-server:1' })[0]!;

/** The parts of a Job these tests read. */
interface JobShape {
  template: {
    metadata: { labels: Record<string, string> };
    spec: {
      restartPolicy: string;
      nodeSelector?: Record<string, string>;
      tolerations?: unknown[];
      containers: {
        image: string;
        command: string[];
        args: string[];
        env: unknown[];
        terminationMessagePolicy: string;
        resources?: unknown;
      }[];
    };
  };
  completions: number;
  podFailurePolicy?: unknown;
}
const shape = (job: { spec: unknown }) => job.spec as JobShape;

function built(phase: SnapshotBuildStatus['phase'], sha = SHA_B): SnapshotBuildStatus {
  return {
    version: buildVersion(sha, new Date('2026-12-06T02:00:00Z')),
    towerFingerprint: 'fp-1',
    itemTowerSha256: sha,
    trigger: 'ModelChange',
    phase,
    job: 'ads-main-b-0123456789',
    shards: 4,
    shardsDone: phase === 'Building' ? 1 : 4,
    startTime: '2026-12-06T02:00:00Z',
  };
}

describe('the build Jobs', () => {
  it('an Indexed Job of shards: per-index retries, bad input fails its index at once, no scoring labels', () => {
    const m = model((s) => {
      s.snapshot!.build!.parallelism = 2;
      s.snapshot!.build!.env = [{ name: 'AWS_ENDPOINT_URL_S3', value: 'http://127.0.0.1:9000' }];
      s.snapshot!.build!.pods = { executionProvider: 'cpu', nodeSelector: { pool: 'batch' } };
    });
    const version = buildVersion(SHA_B, new Date('2026-12-06T02:03:04Z'));
    expect(version).toBe(`20261206T020304Z-${SHA_B.slice(0, 8)}`);
    const job = buildShardJob(m, segmentOf(m), version);
    const spec = shape(job);
    expect(job.metadata.name).toBe(shardJobName('ads', 'main', version));
    expect(job.metadata.name.length).toBeLessThanOrEqual(63);
    expect(spec).toMatchObject({
      completionMode: 'Indexed',
      completions: 4,
      parallelism: 2,
      backoffLimitPerIndex: 2,
      maxFailedIndexes: 0,
    });
    expect(spec.podFailurePolicy).toEqual({
      rules: [
        {
          action: 'FailIndex',
          onExitCodes: { containerName: 'embed', operator: 'In', values: [EXIT_BAD_INPUT] },
        },
        { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] },
      ],
    });
    const pod = spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.nodeSelector).toEqual({ pool: 'batch' });
    expect(pod.tolerations).toBeUndefined(); // cpu: no GPU taint toleration
    const c = pod.containers[0]!;
    expect(c.image).toBe('lightrank-server:1');
    expect(c.command).toEqual(['node', 'dist/embed/main.js']);
    expect(c.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    expect(c.env).toContainEqual({ name: 'AWS_ENDPOINT_URL_S3', value: 'http://127.0.0.1:9000' });
    const arg = (flag: string) => c.args[c.args.indexOf(flag) + 1];
    expect(c.args[0]).toBe('shard');
    expect(arg('--catalogue')).toBe('s3://catalogue/items');
    expect(arg('--item-tower-sha256')).toBe(SHA_B);
    expect(arg('--fingerprint')).toBe('fp-1');
    // the part is staged under the snapshot's own storage (embed: <prefix>/.staging/<version>/)
    expect(arg('--prefix')).toBe('file:///srv/snapshots/ads');
    expect(c.args).not.toContain('--staging');
    expect(arg('--shards')).toBe('4');
    // build pods are not a segment's scoring pods
    expect(spec.template.metadata.labels['lightrank.dev/segment']).toBeUndefined();
    expect(spec.template.metadata.labels['lightrank.dev/build-segment']).toBe('main');
    expect(job.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'RankingModel',
      uid: 'u-1',
      controller: true,
    });
  });

  it('takes the scoring pods’ settings when the build names none (GPU and its toleration on cuda)', () => {
    const m = model();
    const pod = shape(buildShardJob(m, segmentOf(m), 'v1')).template.spec;
    expect(pod.containers[0]!.resources).toEqual({ limits: { 'nvidia.com/gpu': '1' } });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  });

  it('a publish Job that publishes into the snapshot prefix', () => {
    const m = model();
    const job = buildPublishJob(m, segmentOf(m), 'v1');
    const c = shape(job).template.spec.containers[0]!;
    expect(c.args.slice(0, 1)).toEqual(['publish']);
    expect(c.args[c.args.indexOf('--prefix') + 1]).toBe('file:///srv/snapshots/ads');
    expect(shape(job).completions).toBe(1);
  });
});

describe('the canary gate', () => {
  it('holds a new tower pair on its stable until the paired snapshot is published', () => {
    const m = model();
    const seg = segmentOf(m);
    const stable = { ...seg, model: { ...seg.model, sha256: 'c'.repeat(64), version: 'v0' } };
    for (const phase of ['Building', 'Publishing', 'Failed'] as const) {
      expect(waitsForSnapshot(seg, built(phase))).toBe(true);
      const g = gateSegments([seg], new Map([['main', built(phase)]]), () => stable);
      expect(g.held).toEqual(['main']);
      expect(g.segments[0]!.model.version).toBe('v0');
    }
    const published = gateSegments([seg], new Map([['main', built('Published')]]), () => stable);
    expect(published.held).toEqual([]);
    expect(published.segments[0]).toBe(seg);
    // a snapshot published for another item tower is not this pair's
    expect(waitsForSnapshot(seg, built('Published', 'd'.repeat(64)))).toBe(true);
    // no stable yet (a new model): nothing to hold, its pods wait for the snapshot
    expect(gateSegments([seg], new Map(), () => undefined).held).toEqual([]);
  });
});

describe('build status', () => {
  it('counts a Job’s indexes', () => {
    expect(countIndexes(undefined)).toBe(0);
    expect(countIndexes('')).toBe(0);
    expect(countIndexes('3')).toBe(1);
    expect(countIndexes('0-2,5,7-8')).toBe(6);
  });

  it('SnapshotBuilding: True with shards done/total while building, False naming a failure', () => {
    const m = model();
    const base = {
      segments: [
        { name: 'main', replicas: 1, readyReplicas: 0, canaryWeight: 0, rolloutPhase: 'Stable' as const },
      ],
    };
    const now = new Date('2026-12-06T02:05:00Z');
    const running = withBuildStatus(base, m, new Map([['main', built('Building')]]), ['main'], now);
    const c = running.conditions?.find((x) => x.type === 'SnapshotBuilding');
    expect(c).toMatchObject({ status: 'True', reason: 'BuildRunning', observedGeneration: 3 });
    expect(c?.message).toContain('1/4 shards done');
    expect(c?.message).toContain('the canary of main waits for its snapshot');
    expect(running.segments?.[0]?.snapshotBuild?.shardsDone).toBe(1);
    const failed = withBuildStatus(
      base,
      m,
      new Map([
        ['main', { ...built('Failed'), message: 'shard 2 failed: bad row (exit code 2); LATEST not moved' }],
      ]),
      [],
      now,
    );
    expect(failed.conditions?.find((x) => x.type === 'SnapshotBuilding')).toMatchObject({
      status: 'False',
      reason: 'BuildFailed',
    });
    expect(failed.conditions?.[0]?.message).toContain('shard 2 failed: bad row');
    expect(withBuildStatus(base, m, new Map(), [], now)).toBe(base);
  });
});
