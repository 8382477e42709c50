// The sidecar's Kubernetes Events against a real API server: a private control plane in a box
// (test/harness; etcd + kube-apiserver, no nodes), not the cluster project's shared one.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { kubeEventReporter } from '../../sidecar/events.js';
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
});
