// The local node as the API server sees it: a Node object (labels, capacity, optional GPUs that
// are a test double, Ready condition; no kwok annotation, so kwok leaves it alone) and the
// heartbeats a kubelet sends: its Lease in kube-node-lease renewed every 10 s and its Ready
// condition refreshed every 30 s, so the node lifecycle controller keeps it Ready and schedulable.
//
// API:
//   buildLocalNode(opts) → V1Node              pure
//   registerNode(core, node) → Promise<void>    create, or take over a node of the same name
//   class NodeHeartbeat(kc, nodeName, log)      start() / stop()
import { availableParallelism, hostname, totalmem } from 'node:os';
import {
  CoordinationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  type KubeConfig,
  type V1Node,
  type V1NodeCondition,
  type V1Taint,
} from '@kubernetes/client-node';
import type { Logger } from '../lib/logger.js';

export const AGENT_LABEL = 'lightrank.dev/local-node-agent';
/** Marks a node whose GPUs are a test double: advertised capacity, no device behind it. */
export const GPU_TEST_DOUBLE_LABEL = 'lightrank.dev/gpu-test-double';
const KWOK_ANNOTATION = 'kwok.x-k8s.io/node';
const LEASE_NAMESPACE = 'kube-node-lease';
const LEASE_DURATION_S = 40;
const LEASE_RENEW_MS = 10_000;
const STATUS_REFRESH_MS = 30_000;

export interface LocalNodeOptions {
  nodeName: string;
  /** the address pods report as hostIP; the node's InternalIP */
  hostIp: string;
  /** e.g. 10.250.0.0/16 */
  podCidr: string;
  labels?: Record<string, string>;
  taints?: V1Taint[];
  /** advertise GPUs that are not there (a test double): capacity and the usual GPU labels */
  gpuTestDouble?: { count: number; resourceName?: string; product?: string };
}

/** The conditions of a healthy node; a heartbeat leaves out lastTransitionTime (merged by type). */
function readyConditions(now: Date, withTransition: boolean): V1NodeCondition[] {
  const ok = (type: string, reason: string, message: string): V1NodeCondition => ({
    type,
    status: type === 'Ready' ? 'True' : 'False',
    reason,
    message,
    lastHeartbeatTime: now,
    ...(withTransition ? { lastTransitionTime: now } : {}),
  });
  return [
    ok('Ready', 'LocalAgentReady', 'lightrank local node agent is posting ready status'),
    ok('MemoryPressure', 'LocalAgentHasSufficientMemory', 'not measured by the local node agent'),
    ok('DiskPressure', 'LocalAgentHasNoDiskPressure', 'not measured by the local node agent'),
    ok('PIDPressure', 'LocalAgentHasSufficientPID', 'not measured by the local node agent'),
  ];
}

export function buildLocalNode(opts: LocalNodeOptions): V1Node {
  const gpu = opts.gpuTestDouble;
  const gpuResource = gpu?.resourceName ?? 'nvidia.com/gpu';
  const resources: Record<string, string> = {
    cpu: String(availableParallelism()),
    memory: `${Math.floor(totalmem() / 1024 / 1024)}Mi`,
    pods: '110',
    'ephemeral-storage': '100Gi',
    ...(gpu ? { [gpuResource]: String(gpu.count) } : {}),
  };
  const gpuLabels: Record<string, string> = gpu
    ? {
        [GPU_TEST_DOUBLE_LABEL]: 'true',
        'nvidia.com/gpu.present': 'true',
        'nvidia.com/gpu.count': String(gpu.count),
        'nvidia.com/gpu.product': gpu.product ?? 'TEST-DOUBLE-no-device',
      }
    : {};
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: opts.nodeName,
      labels: {
        'kubernetes.io/hostname': opts.nodeName,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch,
        [AGENT_LABEL]: 'true',
        ...gpuLabels,
        ...opts.labels,
      },
    },
    spec: {
      podCIDR: opts.podCidr,
      podCIDRs: [opts.podCidr],
      ...(opts.taints ? { taints: opts.taints } : {}),
    },
    status: {
      capacity: resources,
      allocatable: resources,
      addresses: [
        { type: 'InternalIP', address: opts.hostIp },
        { type: 'Hostname', address: hostname() },
      ],
      conditions: readyConditions(new Date(), true),
      nodeInfo: {
        architecture: process.arch,
        operatingSystem: 'linux',
        kubeletVersion: 'lightrank-local-agent',
        kubeProxyVersion: '',
        containerRuntimeVersion: `local-process://node-${process.version}`,
        bootID: '',
        kernelVersion: '',
        machineID: '',
        osImage: '',
        systemUUID: '',
      },
    },
  };
}

const status = (err: unknown): number | undefined => (err as { code?: number }).code;

/** Creates the node; an existing one of the same name (a previous run) is taken over unless kwok owns it. */
export async function registerNode(core: CoreV1Api, node: V1Node): Promise<void> {
  const name = node.metadata!.name!;
  try {
    await core.createNode({ body: node });
    return;
  } catch (err) {
    if (status(err) !== 409) throw err;
  }
  const existing = await core.readNode({ name });
  if (existing.metadata?.annotations?.[KWOK_ANNOTATION])
    throw new Error(`node ${name} exists and is simulated by kwok; pick another --node-name`);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  await core.patchNode(
    {
      name,
      body: { metadata: { labels: node.metadata!.labels }, spec: { taints: node.spec?.taints ?? null } },
    },
    merge,
  );
  await core.patchNodeStatus({ name, body: { status: node.status } }, merge);
}

export class NodeHeartbeat {
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private leaseTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    kc: KubeConfig,
    private readonly nodeName: string,
    private readonly log: Logger,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
  }

  /** Renews the lease once (so start() fails loudly on a bad cluster), then keeps renewing. */
  async start(): Promise<void> {
    await this.renewLease();
    this.leaseTimer = setInterval(() => void this.beat(() => this.renewLease(), 'lease'), LEASE_RENEW_MS);
    this.statusTimer = setInterval(
      () => void this.beat(() => this.refreshStatus(), 'node status'),
      STATUS_REFRESH_MS,
    );
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.leaseTimer);
    clearInterval(this.statusTimer);
  }

  private async beat(fn: () => Promise<void>, what: string): Promise<void> {
    if (this.stopped) return;
    try {
      await fn();
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, `could not renew the ${what}`);
    }
  }

  private async renewLease(): Promise<void> {
    const now = new V1MicroTime(); // six fractional digits, as the API wants
    const spec = { holderIdentity: this.nodeName, leaseDurationSeconds: LEASE_DURATION_S, renewTime: now };
    try {
      await this.coordination.patchNamespacedLease(
        { name: this.nodeName, namespace: LEASE_NAMESPACE, body: { spec } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      if (status(err) !== 404) throw err;
      const node = await this.core.readNode({ name: this.nodeName });
      await this.coordination.createNamespacedLease({
        namespace: LEASE_NAMESPACE,
        body: {
          metadata: {
            name: this.nodeName,
            namespace: LEASE_NAMESPACE,
            ownerReferences: [
              { apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: node.metadata!.uid! },
            ],
          },
          spec,
        },
      });
    }
  }

  private async refreshStatus(): Promise<void> {
    await this.core.patchNodeStatus(
      { name: this.nodeName, body: { status: { conditions: readyConditions(new Date(), false) } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
  }
}
