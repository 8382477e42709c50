// A build still running when a newer item tower arrives, against the control plane in a box with
// the operator in-process: the shard pods run on kwok nodes (so they never finish by themselves),
// the item tower's sha256 changes, and the operator starts the new build and deletes the old
// build's shard Job, with a Normal Event SnapshotBuildSuperseded naming both builds.
import { BatchV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { API_GROUP, API_VERSION, PLURAL } from '../../api/rankingmodel.js';
import { builtSpec } from '../../api/testing.js';
import { LABEL_BUILD_STEP, LABEL_BUILD_VERSION } from '../../operator/build/objects.js';
import { rankingModel } from '../../operator/testing.js';
import { clients, useTestNamespace, waitFor } from '../harness/cluster.js';
import { useInProcessOperator } from './operator-fixture.js';

const ns = useTestNamespace('embed-superseded');
useInProcessOperator(ns);

interface Job {
  metadata: { name?: string; labels?: Record<string, string>; deletionTimestamp?: unknown };
  status?: { active?: number; conditions?: { type: string }[] };
}
const buildJobs = async (): Promise<Job[]> =>
  (
    (await clients().kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns.name })).items as Job[]
  ).filter((j) => j.metadata.labels?.[LABEL_BUILD_STEP] === 'shard' && !j.metadata.deletionTimestamp);

describe('a superseded build still running', () => {
  it('has its shard Job deleted when a new item tower starts the next build, with an Event', async () => {
    await clients().custom.createNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      body: rankingModel('ads', ns.name, builtSpec()),
    });
    const [first] = await waitFor('the first build’s shard Job, running', async () => {
      const jobs = await buildJobs();
      return jobs.length === 1 && (jobs[0]!.status?.active ?? 0) > 0 ? jobs : false;
    });
    const older = first!.metadata.labels![LABEL_BUILD_VERSION]!;

    await clients().custom.patchNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      name: 'ads',
      body: [{ op: 'replace', path: '/spec/model/itemTower/sha256', value: 'c'.repeat(64) }],
    });
    const [next] = await waitFor('only the new build’s shard Job', async () => {
      const jobs = await buildJobs();
      return jobs.length === 1 && jobs[0]!.metadata.name !== first!.metadata.name ? jobs : false;
    });
    const newer = next!.metadata.labels![LABEL_BUILD_VERSION]!;
    expect(newer).not.toBe(older);

    const events = await waitFor('the SnapshotBuildSuperseded Event', async () => {
      const list = await clients().core.listNamespacedEvent({ namespace: ns.name });
      const found = list.items.filter((e) => e.reason === 'SnapshotBuildSuperseded');
      return found.length > 0 ? found : false;
    });
    expect(events).toHaveLength(1);
    expect(events[0]!.type).toBe('Normal');
    expect(events[0]!.message).toMatch(
      new RegExp(
        `build of snapshot ${older} stopped \\(0 shards done\\): superseded by ${newer}; its Job ${first!.metadata.name} deleted`,
      ),
    );
  });
});
