// The control plane in a box proves itself: the built version serves, controller-manager,
// scheduler and kwok each do their part on fake GPU and CPU nodes, garbage collection works,
// CRDs install whole, the audit log counts writes, and a private control plane stops without
// leaving a process.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cachedBinaries } from '../harness/binaries.js';
import {
  clients,
  clusterInfo,
  getJson,
  isPodReady,
  useTestNamespace,
  waitFor,
  waitForReadyPods,
} from '../harness/cluster.js';
import { startControlPlane } from '../harness/control-plane.js';
import { readManifests } from '../harness/manifests.js';
import { isAlive } from '../harness/processes.js';

const ns = useTestNamespace('harness');
const PAUSE = 'registry.k8s.io/pause:3.10';
const GPU_TOLERATION = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };

function pod(name: string, spec: Partial<NonNullable<V1Pod['spec']>> = {}, gpus?: number): V1Pod {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      containers: [
        {
          name: 'main',
          image: PAUSE,
          resources: gpus === undefined ? {} : { limits: { 'nvidia.com/gpu': `${gpus}` } },
        },
      ],
      terminationGracePeriodSeconds: 0,
      ...spec,
    },
  };
}

async function nodesByName(): Promise<Map<string, V1Node>> {
  const list = await clients().core.listNode();
  return new Map(list.items.map((n) => [n.metadata!.name!, n]));
}
const isGpuNode = (n: V1Node | undefined): boolean =>
  n?.metadata?.labels?.['nvidia.com/gpu.present'] === 'true';

describe('control plane in a box', () => {
  it('serves the Kubernetes version it was built from', async () => {
    const info = clusterInfo();
    const version = await clients().version.getCode();
    if (info.source === 'harness') {
      // the cache directory is keyed by version: k8s-v1.34.4_etcd-..._kwok-...
      const built = /^k8s-(v[0-9.]+)_/.exec(basename(cachedBinaries()!.cacheDir))?.[1];
      expect(built).toMatch(/^v1\.\d+\.\d+$/);
      expect(version.gitVersion).toBe(built);
      expect(version.major).toBe('1');
    } else {
      expect(version.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    }
  });

  it('has GPU nodes advertising nvidia.com/gpu with the device plugin taint, and CPU nodes', async () => {
    const nodes = [...(await nodesByName()).values()];
    const gpu = nodes.filter(isGpuNode);
    const cpu = nodes.filter((n) => !isGpuNode(n));
    expect(gpu.length).toBeGreaterThan(0);
    expect(cpu.length).toBeGreaterThan(0);
    for (const n of gpu) {
      expect(Number(n.status?.allocatable?.['nvidia.com/gpu'])).toBeGreaterThan(0);
      expect(n.metadata?.labels?.['nvidia.com/gpu.product']).toBeTruthy();
      expect(n.metadata?.labels?.['nvidia.com/gpu.count']).toBe(n.status?.capacity?.['nvidia.com/gpu']);
      expect(n.spec?.taints?.some((t) => t.key === 'nvidia.com/gpu' && t.effect === 'NoSchedule')).toBe(true);
    }
    for (const n of cpu) expect(n.status?.allocatable?.['nvidia.com/gpu'] ?? '0').toBe('0');
    for (const n of nodes) expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('installs CRDs whole: defaults and x-kubernetes-validations survive (Gateway API HTTPRoute)', async () => {
    const file = readManifests(cachedBinaries()?.gatewayApiCrdsDir ?? '').find(
      (o) => o.metadata?.name === 'httproutes.gateway.networking.k8s.io',
    ) as { spec: { versions: { name: string; schema: unknown }[] } } | undefined;
    expect(file, 'the Gateway API CRDs in the build cache').toBeDefined();
    const fileSchema = JSON.stringify(file!.spec.versions[0]!.schema);
    expect(fileSchema).toContain('x-kubernetes-validations');
    expect(fileSchema).toContain('"default"');
    const installed = await getJson<typeof file>(
      clients().kc,
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/httproutes.gateway.networking.k8s.io',
    );
    const version = installed!.spec.versions.find(
      (v: { name: string }) => v.name === file!.spec.versions[0]!.name,
    );
    expect(version?.schema).toEqual(file!.spec.versions[0]!.schema);
  });

  it('turns a Deployment into a ReplicaSet and Running, Ready pods; deleting it collects them', async () => {
    const { apps, core } = clients();
    const namespace = ns.name;
    const since = new Date(Date.now() - 1000);
    const labels = { app: 'web' };
    const deployment = await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: pod('web').spec! },
        },
      },
    });
    const pods = await waitForReadyPods(core, namespace, 'app=web', 2, { timeoutMs: 45_000 });
    const replicaSets = (await apps.listNamespacedReplicaSet({ namespace, labelSelector: 'app=web' })).items;
    expect(replicaSets).toHaveLength(1);
    const rs = replicaSets[0]!;
    expect(rs.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'Deployment',
      uid: deployment.metadata!.uid,
    });
    for (const p of pods) {
      expect(p.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicaSet', uid: rs.metadata!.uid });
      expect(p.spec?.nodeName).toBeTruthy();
      expect(p.status?.podIP).toBeTruthy();
    }
    await waitFor('Deployment web to report 2 ready replicas', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace });
      return d.status?.readyReplicas === 2;
    });

    const auditLog = clusterInfo().auditLogPath;
    if (auditLog) {
      const { countAuditWrites } = await import('../harness/audit.js');
      // The controller-manager created exactly one ReplicaSet in this namespace; we created the Deployment.
      await waitFor(
        'audit events for the ReplicaSet create',
        () =>
          countAuditWrites(auditLog, { namespace, resource: 'replicasets', verbs: ['create'], since }) >= 1,
      );
      expect(
        countAuditWrites(auditLog, {
          namespace,
          resource: 'replicasets',
          verbs: ['create'],
          userAgent: 'kube-controller-manager',
          since,
        }),
      ).toBe(1);
      expect(
        countAuditWrites(auditLog, {
          namespace,
          resource: 'deployments',
          verbs: ['create'],
          username: 'lightrank-admin',
          since,
        }),
      ).toBe(1);
    }

    await apps.deleteNamespacedDeployment({ name: 'web', namespace, propagationPolicy: 'Background' });
    await waitFor(
      'the garbage collector to delete the ReplicaSet and pods of the deleted Deployment',
      async () => {
        const rsLeft = (await apps.listNamespacedReplicaSet({ namespace, labelSelector: 'app=web' })).items;
        const podsLeft = (await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items;
        if (rsLeft.length + podsLeft.length === 0) return true;
        throw new Error(`${rsLeft.length} ReplicaSets and ${podsLeft.length} pods left`);
      },
      { timeoutMs: 45_000 },
    );
  });

  it('schedules a GPU pod (with the toleration) on a GPU node and a plain pod on a CPU node', async () => {
    const { core } = clients();
    const namespace = ns.name;
    await core.createNamespacedPod({ namespace, body: pod('gpu-pod', { tolerations: [GPU_TOLERATION] }, 1) });
    await core.createNamespacedPod({ namespace, body: pod('cpu-pod') });
    const [gpuPod] = await waitForReadyPods(core, namespace, 'app=gpu-pod', 1);
    const [cpuPod] = await waitForReadyPods(core, namespace, 'app=cpu-pod', 1);
    const nodes = await nodesByName();
    expect(isGpuNode(nodes.get(gpuPod!.spec!.nodeName!))).toBe(true);
    expect(isGpuNode(nodes.get(cpuPod!.spec!.nodeName!))).toBe(false);
    expect(isPodReady(gpuPod!)).toBe(true);
  });

  it('leaves a pod asking for more GPUs than any node has Pending, with the scheduler saying why', async () => {
    const { core } = clients();
    const namespace = ns.name;
    await core.createNamespacedPod({
      namespace,
      body: pod('too-big', { tolerations: [GPU_TOLERATION] }, 1000),
    });
    const condition = await waitFor('PodScheduled=False on too-big', async () => {
      const p = await core.readNamespacedPod({ name: 'too-big', namespace });
      return p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    });
    expect(condition.reason).toBe('Unschedulable');
    expect(condition.message).toContain('Insufficient nvidia.com/gpu');
    const event = await waitFor('a FailedScheduling event for too-big', async () => {
      const events = await core.listNamespacedEvent({
        namespace,
        fieldSelector: 'involvedObject.name=too-big,reason=FailedScheduling',
      });
      return events.items[0];
    });
    expect(event.message).toContain('Insufficient nvidia.com/gpu');
    const p = await core.readNamespacedPod({ name: 'too-big', namespace });
    expect(p.status?.phase).toBe('Pending');
    expect(p.spec?.nodeName).toBeUndefined();
  });

  it.skipIf(!cachedBinaries())(
    'a private control plane restarts its API server and stops without leaving a process',
    async () => {
      const cp = await startControlPlane({ gpuNodes: 0, cpuNodes: 1, quietBuild: true });
      try {
        const before = cp.pids();
        expect(Object.keys(before).sort()).toEqual(
          ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'].sort(),
        );
        for (const pid of Object.values(before)) expect(isAlive(pid)).toBe(true);

        await cp.restartApiServer();
        const after = cp.pids();
        expect(after['kube-apiserver']).not.toBe(before['kube-apiserver']);
        expect(isAlive(before['kube-apiserver']!)).toBe(false);
        const nodes = await clients(cp.kubeconfigPath).core.listNode();
        expect(nodes.items.map((n) => n.metadata?.name)).toEqual(cp.nodes.cpu);

        await cp.stop();
        const all = [...Object.values(before), after['kube-apiserver']!];
        for (const pid of all) expect(isAlive(pid), `pid ${pid} still alive after stop()`).toBe(false);
        expect(cp.pids()).toEqual({});
        expect(existsSync(cp.runDir)).toBe(false);
      } finally {
        await cp.stop();
      }
    },
  );
});
