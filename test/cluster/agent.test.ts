// The local node agent against the real control plane: a Deployment pinned to the agent's node
// runs the real scoring server as a local process on its own address, turns Running and Ready,
// answers at its pod IP's loopback side and lands in its Service's EndpointSlice; a router pod
// reads its table from a configMap volume and reaches the server through that Service; unknown
// images and commands are refused in the pod's status; a crashing container restarts with
// backoff; scaling down stops the process and removes the pod; stopping the agent leaves no process.
import {
  CoordinationV1Api,
  DiscoveryV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Container,
  type V1Pod,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAddressOf } from '../../agent/addresses.js';
import { startNodeAgent, type NodeAgent } from '../../agent/agent.js';
import {
  clients,
  clusterInfo,
  isPodReady,
  useTestNamespace,
  waitFor,
  waitForReadyPods,
} from '../harness/cluster.js';
import { isAlive } from '../harness/processes.js';

const ns = useTestNamespace('agent');
const NODE = `lightrank-local-${randomBytes(3).toString('hex')}`;
const IMAGE = 'ghcr.io/lightrank/lightrank-server:test';
// Keeps other tests' pods off the agent's node; ours tolerate it.
const TAINT = { key: 'lightrank.dev/local-node-agent', value: 'test', effect: 'NoSchedule' };
const PLACEMENT = {
  nodeSelector: { 'kubernetes.io/hostname': NODE },
  tolerations: [{ key: TAINT.key, operator: 'Exists', effect: 'NoSchedule' }],
};

let agent: NodeAgent;
/** the scoring pod the Deployment test started, used by the router and scale-down tests */
let scoring: { pod: V1Pod; pid: number } | undefined;
let runDir: string;
/** every container pid the tests saw, checked dead once the agent has stopped */
const seenPids = new Set<number>();

function pidOf(pod: V1Pod, container: string): number {
  const id = pod.status?.containerStatuses?.find((c) => c.name === container)?.containerID ?? '';
  const pid = Number(/^local-process:\/\/(\d+)$/.exec(id)?.[1]);
  if (!Number.isInteger(pid))
    throw new Error(`container ${container} of ${pod.metadata?.name} has no pid (${id})`);
  seenPids.add(pid);
  return pid;
}

function environOf(pid: number): Record<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

async function createPod(name: string, containers: V1Container[]): Promise<V1Pod> {
  return clients().core.createNamespacedPod({
    namespace: ns.name,
    body: { metadata: { name }, spec: { ...PLACEMENT, containers, terminationGracePeriodSeconds: 5 } },
  });
}

async function readPod(name: string): Promise<V1Pod> {
  return clients().core.readNamespacedPod({ name, namespace: ns.name });
}

beforeAll(async () => {
  runDir = mkdtempSync(join(tmpdir(), 'lightrank-agent-test-'));
  agent = await startNodeAgent({
    kubeConfig: clients().kc,
    nodeName: NODE,
    runDir,
    taints: [TAINT],
    gpuTestDouble: { count: 1 },
    podKubeconfig: clusterInfo().kubeconfigPath,
    deleteNodeOnStop: true,
    shutdownGraceMs: 3_000,
  });
  await waitFor(`node ${NODE} Ready`, async () => {
    const node = await clients().core.readNode({ name: NODE });
    return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  });
});

afterAll(async () => {
  await agent?.stop();
  if (runDir) rmSync(runDir, { recursive: true, force: true });
});

describe('local node agent', () => {
  it('registers its node with a lease and a GPU test double, which kwok leaves alone', async () => {
    const { core, kc } = clients();
    const node = await core.readNode({ name: NODE });
    expect(node.metadata?.annotations?.['kwok.x-k8s.io/node']).toBeUndefined();
    expect(node.metadata?.labels).toMatchObject({ 'lightrank.dev/gpu-test-double': 'true' });
    expect(node.status?.allocatable?.['nvidia.com/gpu']).toBe('1');
    const lease = await kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: NODE, namespace: 'kube-node-lease' });
    expect(lease.spec?.holderIdentity).toBe(NODE);
  });

  it('runs a Deployment’s scoring server as a local process that its Service resolves to', async () => {
    const { apps, core, kc } = clients();
    const labels = { app: 'scoring' };
    await core.createNamespacedService({
      namespace: ns.name,
      body: {
        metadata: { name: 'scoring' },
        spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
      },
    });
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: 'scoring' },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              ...PLACEMENT,
              terminationGracePeriodSeconds: 10,
              containers: [
                {
                  name: 'server',
                  image: IMAGE,
                  command: ['node', 'dist/server/main.js'],
                  env: [
                    { name: 'LIGHTRANK_PORT', value: '8080' },
                    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                    { name: 'SCRATCH', value: '/scratch/x' },
                  ],
                  ports: [{ name: 'http', containerPort: 8080 }],
                  readinessProbe: { httpGet: { path: '/v2/health/ready', port: 'http' }, periodSeconds: 5 },
                  livenessProbe: { httpGet: { path: '/v2/health/live', port: 'http' }, periodSeconds: 10 },
                  volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
                },
              ],
              volumes: [{ name: 'scratch', emptyDir: {} }],
            },
          },
        },
      },
    });
    // no model given: the server builds and serves the model kit's demo model (a few seconds)
    const [pod] = await waitForReadyPods(core, ns.name, 'app=scoring', 1, { timeoutMs: 60_000 });
    const podIp = pod!.status!.podIP!;
    expect(podIp).toMatch(/^10\.250\.\d+\.\d+$/);
    expect(pod!.status!.hostIP).toBe('127.0.0.1');
    expect(pod!.spec!.nodeName).toBe(NODE);
    const pid = pidOf(pod!, 'server');
    expect(isAlive(pid)).toBe(true);

    const local = localAddressOf(podIp);
    const res = await fetch(`http://${local}:8080/v2/health/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ready: true });

    const env = environOf(pid);
    expect(env.LIGHTRANK_HOST).toBe(local);
    expect(env.POD_NAME).toBe(pod!.metadata!.name);
    const info = agent.pods().find((p) => p.uid === pod!.metadata!.uid)!;
    expect(env.SCRATCH).toBe(join(info.logDir, '..', 'volumes', 'scratch', 'x'));
    expect(pod!.metadata!.annotations?.['lightrank.dev/local-log-dir']).toBe(info.logDir);
    expect(readFileSync(join(info.logDir, 'server.log'), 'utf8')).toContain(`http://${local}:8080`);

    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const endpoint = await waitFor('the Service’s EndpointSlice to list the pod IP as ready', async () => {
      const slices = await discovery.listNamespacedEndpointSlice({
        namespace: ns.name,
        labelSelector: 'kubernetes.io/service-name=scoring',
      });
      return slices.items
        .flatMap((s) => s.endpoints ?? [])
        .find((e) => e.addresses.includes(podIp) && e.conditions?.ready);
    });
    expect(endpoint.nodeName).toBe(NODE);
    scoring = { pod: pod!, pid };
  });

  it('refuses images and commands it does not know, in the pod’s status', async () => {
    await createPod('unknown', [
      { name: 'box', image: 'busybox:1.36', command: ['sleep', '3600'] },
      { name: 'py', image: IMAGE, command: ['python', 'serve.py'] },
    ]);
    const pod = await waitFor('the refusal in the pod status', async () => {
      const p = await readPod('unknown');
      return (p.status?.containerStatuses?.length ?? 0) === 2 ? p : undefined;
    });
    const byName = new Map(pod.status!.containerStatuses!.map((c) => [c.name, c]));
    expect(byName.get('box')!.state?.waiting?.reason).toBe('UnsupportedImage');
    expect(byName.get('box')!.state?.waiting?.message).toContain(
      'image "busybox:1.36" is not a lightrank image',
    );
    expect(byName.get('py')!.state?.waiting?.reason).toBe('UnsupportedCommand');
    expect(byName.get('py')!.state?.waiting?.message).toContain('["python","serve.py"]');
    expect(pod.status!.phase).toBe('Pending');
    expect(pod.status!.message).toContain('lightrank local node agent');
    expect(isPodReady(pod)).toBe(false);
  });

  it('restarts a crashing container with backoff', async () => {
    // the sidecar with no configuration exits at once with status 2
    await createPod('crashing', [{ name: 'sync', image: IMAGE, command: ['node', 'dist/sidecar/main.js'] }]);
    const status = await waitFor(
      'a restart',
      async () => {
        const c = (await readPod('crashing')).status?.containerStatuses?.[0];
        return c && c.restartCount >= 1 ? c : undefined;
      },
      { timeoutMs: 40_000 },
    );
    expect(status.lastState?.terminated?.exitCode).toBe(2);
    expect(status.lastState?.terminated?.reason).toBe('Error');
    // between runs it waits out the backoff, or it is running its next attempt
    expect(status.state?.waiting?.reason ?? (status.state?.running ? 'running' : undefined)).toMatch(
      /^(CrashLoopBackOff|running)$/,
    );
  });

  it('runs the router with its table from a configMap, reaching the scoring Service’s local pod', async () => {
    expect(scoring).toBeDefined();
    const backend = `http://scoring.${ns.name}.svc:8080`;
    const table = {
      version: 1,
      models: {
        demo: {
          defaultSegment: 'standard',
          segments: { standard: { backends: [{ track: 'stable', url: backend, weight: 100 }] } },
        },
      },
    };
    await clients().core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'router-table' }, data: { 'table.json': JSON.stringify(table) } },
    });
    await clients().core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name: 'router' },
        spec: {
          ...PLACEMENT,
          containers: [
            {
              name: 'router',
              image: IMAGE,
              command: ['node', 'dist/router/main.js'],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5 },
              volumeMounts: [{ name: 'table', mountPath: '/etc/lightrank/router' }],
            },
          ],
          volumes: [{ name: 'table', configMap: { name: 'router-table' } }],
        },
      },
    });
    // Ready only once the router has read a valid table from the configMap volume
    const pod = await waitFor('the router Ready', async () => {
      const p = await readPod('router');
      return isPodReady(p) ? p : undefined;
    });
    const pid = pidOf(pod, 'router');
    const local = localAddressOf(pod.status!.podIP!);
    expect(environOf(pid).LIGHTRANK_HOST).toBe(local);
    // through the router to the scoring server, found through the Service's EndpointSlice
    const res = await fetch(`http://${local}:8080/v2/models/demo/ready`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-lightrank-track')).toBe('stable');
  });

  it('deletes a pod gracefully: the process stops, then the API object goes', async () => {
    const { apps, core } = clients();
    const { pod, pid } = scoring!;
    expect(isAlive(pid)).toBe(true);
    // scaling down deletes the pod gracefully: SIGTERM, the process exits, the object goes
    await apps.patchNamespacedDeploymentScale(
      { name: 'scoring', namespace: ns.name, body: { spec: { replicas: 0 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitFor('the scoring pod to be gone', async () => {
      const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: 'app=scoring' });
      return pods.items.length === 0;
    });
    expect(isAlive(pid)).toBe(false);
    expect(agent.pods().some((p) => p.uid === pod!.metadata!.uid)).toBe(false);
  });

  it('stops every pod process when it stops', async () => {
    for (const p of agent.pods()) for (const cpid of Object.values(p.pids)) if (cpid) seenPids.add(cpid);
    expect(seenPids.size).toBeGreaterThanOrEqual(2);

    await agent.stop();
    expect([...seenPids].filter(isAlive)).toEqual([]);
    expect(agent.pods().every((p) => Object.values(p.pids).every((x) => x === undefined))).toBe(true);
  });
});
