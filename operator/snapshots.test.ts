import { describe, expect, it } from 'vitest';
import { PodAnnotation } from '../api/pod-annotations.js';
import type { KubeObject } from './runtime/kube/types.js';
import { podSnapshotReport, segmentSnapshot, type PodSnapshotReport } from './snapshots.js';
import { snapshotsCondition } from './status.js';

function pod(name: string, ready: boolean, annotations: Record<string, string> = {}): KubeObject {
  return {
    metadata: { name, annotations },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}
const on = (version: string, createdAt?: string) => ({
  [PodAnnotation.SnapshotVersion]: version,
  ...(createdAt ? { [PodAnnotation.SnapshotCreatedAt]: createdAt } : {}),
});
const reports = (...pods: KubeObject[]): PodSnapshotReport[] => pods.map(podSnapshotReport);

describe('podSnapshotReport', () => {
  it('reads the annotations and readiness; a terminating pod is not ready', () => {
    expect(
      podSnapshotReport(
        pod('a', true, {
          ...on('v7', '2026-11-29T08:00:00Z'),
          [PodAnnotation.SnapshotRefused]: 'v8: checksum',
        }),
      ),
    ).toEqual({
      name: 'a',
      ready: true,
      version: 'v7',
      createdAt: '2026-11-29T08:00:00Z',
      refused: 'v8: checksum',
    });
    const terminating = pod('b', true, on('v7'));
    terminating.metadata.deletionTimestamp = '2026-11-29T08:00:00Z';
    expect(podSnapshotReport(terminating).ready).toBe(false);
    expect(podSnapshotReport({ metadata: { name: 'c' } })).toEqual({ name: 'c', ready: false });
  });
});

describe('segmentSnapshot', () => {
  it('takes the version of the ready pods and its createdAt at second precision', () => {
    const s = segmentSnapshot(
      reports(
        pod('a', true, on('v7', '2026-11-29T08:00:00.123Z')),
        pod('b', true, on('v7')),
        pod('c', false, on('v6')),
      ),
    );
    expect(s).toEqual({
      snapshotVersion: 'v7',
      snapshotTime: '2026-11-29T08:00:00Z',
      versions: [['v7', 2]],
      refused: [],
      unreported: 0,
      behind: [],
    });
  });

  it('counts the ready pods serving another version than the LATEST their sidecar read', () => {
    const latest = (v: string) => ({ [PodAnnotation.SnapshotLatest]: v });
    const s = segmentSnapshot(
      reports(
        pod('a', true, { ...on('v7'), ...latest('v8') }),
        pod('b', true, { ...on('v7'), ...latest('v8') }),
        pod('c', true, { ...on('v7'), ...latest('v7') }),
        pod('d', true, on('v7')), // a sidecar that does not report LATEST: not counted
        pod('e', false, { ...on('v6'), ...latest('v8') }), // not ready: not counted
      ),
    );
    expect(s).toMatchObject({ snapshotVersion: 'v7', behind: [['v8', 2]] });
    expect(podSnapshotReport(pod('a', true, { ...on('v7'), ...latest('v8') }))).toMatchObject({
      version: 'v7',
      latest: 'v8',
    });
  });

  it('on disagreement takes the most common version, and on a tie the oldest', () => {
    const most = segmentSnapshot(
      reports(pod('a', true, on('v6')), pod('b', true, on('v7')), pod('c', true, on('v7'))),
    );
    expect(most.snapshotVersion).toBe('v7');
    expect(most.versions).toEqual([
      ['v7', 2],
      ['v6', 1],
    ]);
    const tie = segmentSnapshot(
      reports(
        pod('a', true, on('v9', '2026-11-29T09:00:00Z')),
        pod('b', true, on('v8', '2026-11-29T08:00:00Z')),
      ),
    );
    expect(tie).toMatchObject({ snapshotVersion: 'v8', snapshotTime: '2026-11-29T08:00:00Z' });
  });

  it('counts ready pods without a report and collects refusals once', () => {
    const refusal = { [PodAnnotation.SnapshotRefused]: 'v8: checksum mismatch' };
    const s = segmentSnapshot(
      reports(pod('a', true), pod('b', true, { ...on('v7'), ...refusal }), pod('c', false, refusal)),
    );
    expect(s).toMatchObject({ snapshotVersion: 'v7', unreported: 1, refused: ['v8: checksum mismatch'] });
  });
});

describe('snapshotsCondition', () => {
  const seg = (name: string, ...pods: KubeObject[]) => ({
    name,
    snapshot: segmentSnapshot(reports(...pods)),
  });

  it('is True when every segment serving has its ready pods on one version', () => {
    expect(
      snapshotsCondition(
        [seg('standard', pod('a', true, on('v7')), pod('b', true, on('v7'))), seg('idle')],
        3,
      ),
    ).toEqual({
      type: 'SnapshotsInSync',
      status: 'True',
      reason: 'SnapshotsCurrent',
      message: 'standard: v7 (2 pods)',
      observedGeneration: 3,
    });
  });

  it('is False with the counts when pods disagree', () => {
    expect(
      snapshotsCondition(
        [seg('standard', pod('a', true, on('v7')), pod('b', true, on('v6')), pod('c', true, on('v7')))],
        1,
      ),
    ).toMatchObject({
      status: 'False',
      reason: 'SnapshotStale',
      message: 'standard: pods on different versions (2 pods on v7, 1 pod on v6)',
    });
  });

  it('is False naming version and cause of a refused snapshot, before any disagreement', () => {
    const refused = { ...on('v7'), [PodAnnotation.SnapshotRefused]: 'v8: sha256 ab, the manifest says cd' };
    expect(
      snapshotsCondition(
        [
          seg('standard', pod('a', true, refused)),
          seg('shopping', pod('b', true, on('v1')), pod('c', true, on('v2'))),
        ],
        1,
      ),
    ).toMatchObject({
      status: 'False',
      reason: 'SnapshotRejected',
      message: 'standard: refused v8: sha256 ab, the manifest says cd',
    });
  });

  it("is False when the pods agree but serve another version than storage's LATEST", () => {
    const at = (version: string, latest: string) => ({
      ...on(version),
      [PodAnnotation.SnapshotLatest]: latest,
    });
    expect(
      snapshotsCondition(
        [
          seg('standard', pod('a', true, at('v7', 'v8')), pod('b', true, at('v7', 'v8'))),
          seg('shopping', pod('c', true, at('v3', 'v3'))),
        ],
        2,
      ),
    ).toMatchObject({
      status: 'False',
      reason: 'SnapshotStale',
      message: "standard: storage's LATEST is v8 (read by 2 pods); the ready pods serve v7",
    });
    // a disagreement between pods is reported first; a refusal before both
    expect(
      snapshotsCondition(
        [seg('standard', pod('a', true, at('v7', 'v8')), pod('b', true, at('v8', 'v8')))],
        2,
      ),
    ).toMatchObject({ message: 'standard: pods on different versions (1 pod on v7, 1 pod on v8)' });
    const refused = { ...at('v7', 'v8'), [PodAnnotation.SnapshotRefused]: 'v8: checksum' };
    expect(snapshotsCondition([seg('standard', pod('a', true, refused))], 2)).toMatchObject({
      reason: 'SnapshotRejected',
    });
    // once the pods serve it: True
    expect(
      snapshotsCondition(
        [seg('standard', pod('a', true, at('v8', 'v8')), pod('b', true, at('v8', 'v8')))],
        2,
      ),
    ).toMatchObject({ status: 'True', message: 'standard: v8 (2 pods)' });
  });

  it('says FingerprintMismatch when every refused snapshot is of another item tower', () => {
    const refused = (cause: string) => ({ ...on('v7'), [PodAnnotation.SnapshotRefused]: cause });
    const other = 'v8: fingerprint: snapshot fingerprint ab, the model wants cd';
    expect(snapshotsCondition([seg('standard', pod('a', true, refused(other)))], 1)).toMatchObject({
      status: 'False',
      reason: 'FingerprintMismatch',
      message: `standard: refused ${other}`,
    });
    expect(
      snapshotsCondition(
        [
          seg('standard', pod('a', true, refused(other))),
          seg('shopping', pod('b', true, refused('v2: checksum: x'))),
        ],
        1,
      ),
    ).toMatchObject({ reason: 'SnapshotRejected' });
    // a value without a code (an older sidecar): the general reason
    expect(
      snapshotsCondition([seg('standard', pod('a', true, refused('v8: fingerprint differs')))], 1),
    ).toMatchObject({ reason: 'SnapshotRejected' });
  });

  it('is Unknown while no pod has reported, or while a serving segment has not', () => {
    expect(snapshotsCondition([seg('standard', pod('a', false, on('v7')))], 1)).toMatchObject({
      status: 'Unknown',
      reason: 'SnapshotsNotReported',
      message: 'no ready pod has reported a snapshot yet',
    });
    expect(
      snapshotsCondition([seg('standard', pod('a', true, on('v7'))), seg('shopping', pod('b', true))], 1),
    ).toMatchObject({
      status: 'Unknown',
      reason: 'SnapshotsNotReported',
      message: 'shopping: 1 pod ready without a reported snapshot',
    });
  });
});
