// The sidecar's Kubernetes Events and pod annotations (what it serves, a refused snapshot)
// against a real API server: a private control plane in a box
// (test/harness; etcd + kube-apiserver, no nodes), not the cluster project's shared one.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { PodAnnotation } from '../../api/pod-annotations.js';
import { kubeEventReporter } from '../../sidecar/events.js';
import { kubePodStatusReporter } from '../../sidecar/pod-status.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';

describe('sidecar Events', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ cpuNodes: 0, gpuNodes: 0, quietBuild: true });
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('records a Warning Event on the pod, and a failure to record is not thrown', async () => {
    const log = createLogger('sidecar-events-test');
    const pod = { name: 'scoring-standard-7d9f', namespace: 'default', uid: '0f1e2d3c' };
    await kubeEventReporter(cp.kubeConfig, pod, log).warn(
      'SnapshotRefused',
      's3://bucket/snapshots/v3/embeddings.bin: sha256 ab…, the manifest says cd…',
    );
    const api = cp.kubeConfig.makeApiClient(CoreV1Api);
    const events = (await api.listNamespacedEvent({ namespace: 'default' })).items.filter(
      (e) => e.involvedObject.name === pod.name,
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      reason: 'SnapshotRefused',
      type: 'Warning',
      involvedObject: { kind: 'Pod', name: pod.name, namespace: 'default', uid: pod.uid },
      source: { component: 'lightrank-sidecar' },
      message: expect.stringContaining('v3/embeddings.bin'),
    });

    // A namespace that does not exist: the API refuses, the reporter logs and carries on.
    await expect(
      kubeEventReporter(cp.kubeConfig, { ...pod, namespace: 'no-such-namespace' }, log).warn(
        'SnapshotRefused',
        'x',
      ),
    ).resolves.toBeUndefined();
  });

  it('annotates its own pod with the served snapshot, LATEST, refusals, and clears refusals on success', async () => {
    const log = createLogger('sidecar-pod-status-test');
    const api = cp.kubeConfig.makeApiClient(CoreV1Api);
    const namespace = 'default';
    const name = 'scoring-standard-5c6b';
    await api.createNamespacedPod({
      namespace,
      body: {
        metadata: { name, annotations: { 'kept.example/x': 'y' } },
        spec: { containers: [{ name: 'server', image: 'example.invalid/server:1' }] },
      },
    });
    const annotations = async () =>
      (await api.readNamespacedPod({ name, namespace })).metadata?.annotations ?? {};
    const reporter = kubePodStatusReporter(cp.kubeConfig, { name, namespace }, log);

    await reporter.served({
      snapshotVersion: 'v7',
      snapshotCreatedAt: '2026-11-29T08:00:00Z',
      modelVersion: 'm3',
    });
    expect(await annotations()).toEqual({
      'kept.example/x': 'y',
      [PodAnnotation.SnapshotVersion]: 'v7',
      [PodAnnotation.SnapshotCreatedAt]: '2026-11-29T08:00:00Z',
      [PodAnnotation.ModelVersion]: 'm3',
    });

    await reporter.latest('v8');
    expect(await annotations()).toMatchObject({
      [PodAnnotation.SnapshotVersion]: 'v7',
      [PodAnnotation.SnapshotLatest]: 'v8',
    });
    await reporter.refused('snapshot', 'v8', 'checksum: sha256 ab…, the manifest says cd…');
    await reporter.refused('model', 'm4', 'sha256 ef…, the spec says 01…');
    expect(await annotations()).toMatchObject({
      [PodAnnotation.SnapshotVersion]: 'v7',
      [PodAnnotation.SnapshotLatest]: 'v8',
      [PodAnnotation.SnapshotRefused]: 'v8: checksum: sha256 ab…, the manifest says cd…',
      [PodAnnotation.ModelRefused]: 'm4: sha256 ef…, the spec says 01…',
    });
    await reporter.accepted('model');
    expect(await annotations()).not.toHaveProperty(PodAnnotation.ModelRefused);
    await reporter.refused('model', 'm5', 'fingerprint differs');

    await reporter.served({ snapshotVersion: 'v9', modelVersion: 'm3' });
    const after = await annotations();
    expect(after[PodAnnotation.SnapshotVersion]).toBe('v9');
    expect(after).not.toHaveProperty(PodAnnotation.SnapshotRefused);
    expect(after).not.toHaveProperty(PodAnnotation.ModelRefused);
    expect(after).not.toHaveProperty(PodAnnotation.SnapshotCreatedAt);

    // A pod that does not exist: the API refuses, the reporter logs and carries on.
    await expect(
      kubePodStatusReporter(cp.kubeConfig, { name: 'gone', namespace }, log).refused('snapshot', 'v1', 'x'),
    ).resolves.toBeUndefined();
  });
});
