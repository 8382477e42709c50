// The operator's EventRecorder against the real API server: a transition is written each time it
// happens (a rollout retried after a rollback reports its start again); a report of a lasting
// state (`repeats`) is written once however often a pass sees it; a different message is news.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { EventRecorder } from '../../operator/runtime/events.js';
import type { KubeClient } from '../../operator/runtime/kube/client.js';
import { EVENTS, type KubeObject, CONFIGMAPS } from '../../operator/runtime/kube/types.js';
import { testClient } from '../../operator/testing.js';
import { clusterInfo, useTestNamespace } from '../harness/cluster.js';

const ns = useTestNamespace('events');
let client: KubeClient;
beforeAll(() => {
  client = testClient(clusterInfo().kubeconfigPath);
});
afterAll(() => client.close());

describe('EventRecorder', () => {
  it('writes every transition, and a repeating report once', async () => {
    const regarding = (await client.create(CONFIGMAPS, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'regarding', namespace: ns.name },
    })) as KubeObject & { apiVersion: string; kind: string };
    const events = new EventRecorder(client, 'test', createLogger('events-test'));
    const started = { type: 'Normal', reason: 'RolloutStarted', message: 'segment a: v1 → v2' } as const;
    const blocked = {
      type: 'Warning',
      reason: 'CapacityBlocked',
      message: 'segment a: 2 GPUs short',
      repeats: true,
    } as const;
    await events.record(regarding, started);
    await events.record(regarding, blocked);
    await events.record(regarding, blocked);
    await events.record(regarding, started); // retried after a rollback
    await events.record(regarding, { ...blocked, message: 'segment a: 1 GPU short' });
    await events.flush();

    const list = await client.list<KubeObject & { reason: string; message: string }>(EVENTS, ns.name);
    const written = list.items
      .filter(
        (e) => (e as { involvedObject?: { uid?: string } }).involvedObject?.uid === regarding.metadata.uid,
      )
      .map((e) => `${e.reason}: ${e.message}`)
      .sort();
    expect(written).toEqual([
      'CapacityBlocked: segment a: 1 GPU short',
      'CapacityBlocked: segment a: 2 GPUs short',
      'RolloutStarted: segment a: v1 → v2',
      'RolloutStarted: segment a: v1 → v2',
    ]);
  });
});
