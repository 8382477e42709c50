// The sidecar's Kubernetes Events and pod annotations (what it serves, a refused snapshot)
// against a real API server: a private control plane in a box
// (test/harness; etcd + kube-apiserver, no nodes), not the cluster project's shared one.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../lib/logger.js';
import { PodAnnotation } from '../../api/pod-annotations.js';
import { eventReporterFromEnv, kubeEventReporter } from '../../sidecar/events.js';
import { kubePodStatusReporter, podStatusReporterFromEnv } from '../../sidecar/pod-status.js';
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

  it('in a pod: reporters from the env and the ServiceAccount, as the sidecar, or none with a warning', async () => {
    const namespace = 'default';
    const name = 'scoring-standard-in-cluster';
    const api = cp.kubeConfig.makeApiClient(CoreV1Api);
    const rbac = cp.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await api.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'sidecar' } } });
    // what the sidecar needs: patch its pod, create Events
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'sidecar' },
        rules: [
          { apiGroups: [''], resources: ['pods'], verbs: ['patch'] },
          { apiGroups: [''], resources: ['events'], verbs: ['create'] },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'sidecar' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'sidecar' },
        subjects: [{ kind: 'ServiceAccount', name: 'sidecar', namespace }],
      },
    });
    const { status } = await api.createNamespacedServiceAccountToken({
      name: 'sidecar',
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const saDir = await mkdtemp(path.join(tmpdir(), 'lightrank-sa-'));
    try {
      await writeFile(path.join(saDir, 'token'), status!.token);
      await copyFile(cp.pki.ca.cert, path.join(saDir, 'ca.crt'));
      await api.createNamespacedPod({
        namespace,
        body: {
          metadata: { name },
          spec: { containers: [{ name: 'server', image: 'example.invalid/server:1' }] },
        },
      });
      const env = {
        POD_NAME: name,
        POD_NAMESPACE: namespace,
        POD_UID: 'a1b2',
        KUBERNETES_SERVICE_HOST: '127.0.0.1',
        KUBERNETES_SERVICE_PORT: new URL(cp.serverUrl).port,
      };
      const since = new Date(Date.now() - 1000);
      const log = createLogger('sidecar-in-cluster-test');
      const reporter = podStatusReporterFromEnv(env, log, saDir);
      const events = eventReporterFromEnv(env, log, saDir);
      expect(reporter).toBeDefined();
      expect(events).toBeDefined();
      await reporter!.refused('snapshot', 'v2', 'checksum: x');
      await events!.warn('SnapshotRefused', 'v2: checksum: x');
      const pod = await api.readNamespacedPod({ name, namespace });
      expect(pod.metadata?.annotations).toEqual({ [PodAnnotation.SnapshotRefused]: 'v2: checksum: x' });
      const recorded = (await api.listNamespacedEvent({ namespace })).items.filter(
        // (the scheduler may record its own about the pod)
        (e) => e.involvedObject.name === name && e.source?.component === 'lightrank-sidecar',
      );
      expect(recorded).toHaveLength(1);
      expect(recorded[0]).toMatchObject({
        reason: 'SnapshotRefused',
        type: 'Warning',
        involvedObject: { kind: 'Pod', name, namespace, uid: 'a1b2' },
        reportingComponent: 'lightrank.dev/sidecar',
        reportingInstance: name,
        count: 1,
      });
      // as the pod's ServiceAccount, a merge patch and a create, under the sidecar's user agent
      const writes = cp
        .auditEvents({ username: `system:serviceaccount:${namespace}:sidecar`, since, succeededOnly: true })
        .map((e) => `${e.verb} ${e.objectRef?.resource} ${e.userAgent}`);
      expect(writes.sort()).toEqual(['create events lightrank-sidecar', 'patch pods lightrank-sidecar']);

      // no ServiceAccount token: no reporters, and a warning naming why
      const warnings: string[] = [];
      const recording = {
        warn: (o: { err?: string }, msg: string) => warnings.push(`${msg} (${o.err})`),
      } as unknown as Logger;
      const empty = await mkdtemp(path.join(tmpdir(), 'lightrank-sa-empty-'));
      try {
        expect(podStatusReporterFromEnv(env, recording, empty)).toBeUndefined();
        expect(eventReporterFromEnv(env, recording, empty)).toBeUndefined();
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
      expect(warnings).toEqual([
        expect.stringMatching(
          /not be annotated on the pod \(not in a cluster: no ServiceAccount token at .*token\)/,
        ),
        expect.stringMatching(/sync failures will not be Events \(not in a cluster: no ServiceAccount token/),
      ]);
      // not in a pod: none, silently
      expect(podStatusReporterFromEnv({}, recording)).toBeUndefined();
      expect(eventReporterFromEnv({ POD_NAME: name, POD_NAMESPACE: namespace }, recording)).toBeUndefined();
      expect(warnings).toHaveLength(2);
    } finally {
      await rm(saDir, { recursive: true, force: true });
    }
  });
});
