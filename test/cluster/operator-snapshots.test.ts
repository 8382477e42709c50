// The snapshot each segment serves reaches RankingModel status: kwok pods run no sidecar, so the
// test annotates the scoring pods as the sidecar would (sidecar/pod-status.ts); the operator's
// pod informer sees it and status.segments[].snapshotVersion / snapshotTime and the
// SnapshotsInSync condition follow, through agreement, disagreement, a refused snapshot, and pods
// behind the version storage's LATEST names.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { expect, it } from 'vitest';
import { PodAnnotation } from '../../api/pod-annotations.js';
import { API_GROUP, API_VERSION, PLURAL, type RankingModelStatus } from '../../api/rankingmodel.js';
import { minimalSpec } from '../../api/testing.js';
import { rankingModel } from '../../operator/testing.js';
import { clients, useTestNamespace, waitFor } from '../harness/cluster.js';
import { useInProcessOperator } from './operator-fixture.js';

const ns = useTestNamespace('operator-snapshots');
const NAME = 'snap';
useInProcessOperator(ns);

const status = async () =>
  (
    (await clients().custom.getNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      name: NAME,
    })) as { status?: RankingModelStatus }
  ).status;

/** Waits until `check` holds for the model's status; the error names the last status seen. */
const waitStatus = (what: string, check: (s: RankingModelStatus) => boolean) =>
  waitFor(
    what,
    async () => {
      const s = await status();
      if (s && check(s)) return s;
      throw new Error(`status: ${JSON.stringify(s ?? {})}`);
    },
    { timeoutMs: 30_000 },
  );

const inSync = (s: RankingModelStatus) => s.conditions?.find((c) => c.type === 'SnapshotsInSync');

/** What the sidecar does after a sync (null removes an annotation). */
async function annotate(pod: string, annotations: Record<string, string | null>) {
  await clients().core.patchNamespacedPod(
    { name: pod, namespace: ns.name, body: { metadata: { annotations } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}
const served = (version: string, createdAt: string) => ({
  [PodAnnotation.SnapshotVersion]: version,
  [PodAnnotation.SnapshotCreatedAt]: createdAt,
  [PodAnnotation.ModelVersion]: 'v1',
  [PodAnnotation.SnapshotRefused]: null,
});

it('follows the snapshot the ready pods report: in sync, split, refused, in sync again', async () => {
  const spec = minimalSpec();
  spec.segments = [{ name: 'main', replicas: 2, match: { default: true } }];
  await clients().custom.createNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    namespace: ns.name,
    plural: PLURAL,
    body: rankingModel(NAME, ns.name, spec),
  });
  const first = await waitStatus(
    'Ready with no snapshot reported',
    (s) => s.phase === 'Ready' && inSync(s)?.status === 'Unknown',
  );
  expect(inSync(first)).toMatchObject({ reason: 'SnapshotsNotReported' });
  expect(first.segments?.[0]).not.toHaveProperty('snapshotVersion');

  const pods = (
    await clients().core.listNamespacedPod({
      namespace: ns.name,
      labelSelector: `lightrank.dev/model=${NAME},lightrank.dev/track=stable`,
    })
  ).items.map((p) => p.metadata!.name!);
  expect(pods).toHaveLength(2);
  const [a, b] = pods as [string, string];
  /** Both pods report serving `version`; waits for SnapshotsInSync True on it. */
  const bothServe = async (version: string, createdAt: string) => {
    for (const pod of [a, b]) await annotate(pod, served(version, createdAt));
    return waitStatus(
      `in sync on ${version}`,
      (s) => inSync(s)?.status === 'True' && s.segments?.[0]?.snapshotVersion === version,
    );
  };

  const current = await bothServe('v7', '2026-11-29T08:00:00Z');
  expect(current.segments?.[0]).toMatchObject({
    name: 'main',
    snapshotVersion: 'v7',
    snapshotTime: '2026-11-29T08:00:00Z',
  });
  expect(inSync(current)).toMatchObject({ reason: 'SnapshotsCurrent', message: 'main: v7 (2 pods)' });

  // one pod moves on to v8 before the other: a tie, so the status names the older v7
  await annotate(b, served('v8', '2026-11-29T09:00:00Z'));
  const split = await waitStatus('SnapshotsInSync False on a split', (s) => inSync(s)?.status === 'False');
  expect(inSync(split)).toMatchObject({
    reason: 'SnapshotStale',
    message: 'main: pods on different versions (1 pod on v7, 1 pod on v8)',
  });
  expect(split.segments?.[0]?.snapshotVersion).toBe('v7');

  // both on v8, then v9 refused by one of them: False naming version and cause
  await annotate(a, served('v8', '2026-11-29T09:00:00Z'));
  await waitStatus(
    'in sync on v8',
    (s) => inSync(s)?.status === 'True' && s.segments?.[0]?.snapshotVersion === 'v8',
  );
  await annotate(a, { [PodAnnotation.SnapshotRefused]: 'v9: checksum: sha256 ab, the manifest says cd' });
  const refused = await waitStatus('SnapshotRejected', (s) => inSync(s)?.reason === 'SnapshotRejected');
  expect(inSync(refused)).toMatchObject({
    status: 'False',
    message: 'main: refused v9: checksum: sha256 ab, the manifest says cd',
  });
  expect(refused.segments?.[0]).toMatchObject({
    snapshotVersion: 'v8',
    snapshotTime: '2026-11-29T09:00:00Z',
  });

  // the next good sync clears the refusal
  await bothServe('v10', '2026-11-29T10:00:00Z');

  // storage's LATEST moves to v11: the sidecars say so before downloading; until the pods serve
  // it they are behind storage
  const latest = { [PodAnnotation.SnapshotLatest]: 'v11' };
  await annotate(a, latest);
  await annotate(b, latest);
  const behindMessage = "main: storage's LATEST is v11 (read by 2 pods); the ready pods serve v10";
  const behind = await waitStatus('SnapshotStale behind LATEST', (s) => inSync(s)?.message === behindMessage);
  expect(inSync(behind)).toMatchObject({ status: 'False', reason: 'SnapshotStale' });
  await bothServe('v11', '2026-11-29T11:00:00Z');

  // a model the sidecar refused (it annotates the pod the same way): Degraded, with the cause
  const degraded = (st: RankingModelStatus) => st.conditions?.find((c) => c.type === 'Degraded');
  await annotate(b, { [PodAnnotation.ModelRefused]: 'v2: sha256 ef, the spec says 01' });
  const bad = await waitStatus('Degraded ModelRejected', (st) => degraded(st)?.reason === 'ModelRejected');
  expect(degraded(bad)).toMatchObject({
    status: 'True',
    message: 'main: 1 pod(s) refused model v2: sha256 ef, the spec says 01',
  });
  expect(bad.phase).toBe('Degraded');
  await annotate(b, { [PodAnnotation.ModelRefused]: null });
  await waitStatus('no longer Degraded', (st) => degraded(st)?.status === 'False');
});
