// The local node agent, in the spirit of virtual-kubelet: registers a Node, keeps its heartbeats
// fresh, watches the pods bound to it and runs their lightrank containers as local processes on
// a loopback address of their own, writes their status (pod IP, readiness, restarts) through the
// status subresource, honours graceful deletion, and on stop leaves no process behind.
// See docs/local-node-agent.md.
//
// API:
//   startNodeAgent(opts) → Promise<NodeAgent>      NodeAgent: { nodeName, runDir, pods(), stop() }
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CoreV1Api,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
  type V1Taint,
} from '@kubernetes/client-node';
import { createLogger, type Logger } from '../lib/logger.js';
import { AddressPool, DEFAULT_POD_NETWORK, type PodAddress } from './addresses.js';
import { NodeHeartbeat, buildLocalNode, registerNode } from './node.js';
import { PodRunner } from './pod.js';

export const DEFAULT_NODE_NAME = 'lightrank-local';
/** Pod annotation naming the directory of the pod's container logs on this machine. */
export const LOG_DIR_ANNOTATION = 'lightrank.dev/local-log-dir';
/** The checkout this module belongs to (compiled, it sits one level deeper, under dist/). */
const REPO_ROOT = ((dir: string) => (existsSync(join(dir, 'package.json')) ? dir : join(dir, '..')))(
  fileURLToPath(new URL('../', import.meta.url)),
);
const HOST_IP = '127.0.0.1';
const RELIST_DELAY_MS = 1_000;
const STATUS_DEBOUNCE_MS = 50;
/** When the API object is gone already (a forced deletion): SIGTERM, then SIGKILL after this. */
const FORCED_DELETION_GRACE_MS = 2_000;

export interface NodeAgentOptions {
  kubeConfig: KubeConfig;
  /** default: lightrank-local */
  nodeName?: string;
  /** the lightrank checkout whose entry points run (default: this one) */
  repo?: string;
  /** where pod directories (logs, volumes) go (default: a new temp dir) */
  runDir?: string;
  /** first two octets of the pod IPs (default 10.250) */
  podNetwork?: string;
  labels?: Record<string, string>;
  taints?: V1Taint[];
  /** advertise GPUs that are not there (a test double), e.g. { count: 1 } */
  gpuTestDouble?: { count: number; resourceName?: string; product?: string };
  /**
   * kubeconfig file the pods' processes reach the API server with, standing in for their
   * ServiceAccount (the router resolves Services with it); default: none
   */
  podKubeconfig?: string;
  /** which images may run (default: the repository's last segment starts with "lightrank") */
  imageAllowed?: (image: string) => boolean;
  /** longest the pods' processes get between SIGTERM and SIGKILL when the agent stops (default 5 s) */
  shutdownGraceMs?: number;
  /** delete the Node object on stop, so the pod GC removes its pods (default false, like a kubelet) */
  deleteNodeOnStop?: boolean;
  log?: Logger;
}

export interface LocalPodInfo {
  namespace: string;
  name: string;
  uid: string;
  podIp: string;
  /** the loopback address the pod's processes bind to */
  localAddress: string;
  logDir: string;
  /** pid of each running container */
  pids: Record<string, number | undefined>;
}

export interface NodeAgent {
  readonly nodeName: string;
  readonly runDir: string;
  pods(): LocalPodInfo[];
  stop(): Promise<void>;
}

interface PodEntry {
  pod: V1Pod;
  runner?: PodRunner;
  address?: PodAddress;
  /** the pod's lifecycle steps, one after the other */
  work: Promise<void>;
  deleting: boolean;
  statusTimer?: NodeJS.Timeout;
  statusWrite: Promise<void>;
  lastStatus?: string;
}

const code = (err: unknown): number | undefined => (err as { code?: number }).code;
const key = (pod: V1Pod): string => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

export async function startNodeAgent(opts: NodeAgentOptions): Promise<NodeAgent> {
  const agent = new Agent(opts);
  await agent.start();
  return agent;
}

class Agent implements NodeAgent {
  readonly nodeName: string;
  readonly runDir: string;
  private readonly core: CoreV1Api;
  private readonly log: Logger;
  private readonly pool: AddressPool;
  private readonly heartbeat: NodeHeartbeat;
  private readonly entries = new Map<string, PodEntry>();
  /** uids of pods this agent has finished deleting: late watch events about them are ignored */
  private readonly finished = new Set<string>();
  private readonly repo: string;
  private stopped = false;
  private watchAbort: AbortController | undefined;
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly opts: NodeAgentOptions) {
    this.nodeName = opts.nodeName ?? DEFAULT_NODE_NAME;
    this.repo = opts.repo ?? REPO_ROOT;
    this.runDir = opts.runDir ?? mkdtempSync(join(tmpdir(), `lightrank-node-agent-${this.nodeName}-`));
    mkdirSync(this.runDir, { recursive: true });
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.log = (opts.log ?? createLogger('node-agent')).child({ node: this.nodeName });
    this.pool = new AddressPool(opts.podNetwork ?? DEFAULT_POD_NETWORK);
    this.heartbeat = new NodeHeartbeat(opts.kubeConfig, this.nodeName, this.log);
  }

  async start(): Promise<void> {
    const network = this.opts.podNetwork ?? DEFAULT_POD_NETWORK;
    const node = buildLocalNode({
      nodeName: this.nodeName,
      hostIp: HOST_IP,
      podCidr: `${network}.0.0/16`,
      ...(this.opts.labels ? { labels: this.opts.labels } : {}),
      ...(this.opts.taints ? { taints: this.opts.taints } : {}),
      ...(this.opts.gpuTestDouble ? { gpuTestDouble: this.opts.gpuTestDouble } : {}),
    });
    await registerNode(this.core, node);
    await this.heartbeat.start();
    this.loop = this.listAndWatch();
    this.log.info({ runDir: this.runDir, repo: this.repo }, 'local node agent started');
  }

  pods(): LocalPodInfo[] {
    return [...this.entries.values()]
      .filter((e) => e.runner && e.address)
      .map((e) => ({
        namespace: e.pod.metadata!.namespace!,
        name: e.pod.metadata!.name!,
        uid: e.pod.metadata!.uid!,
        podIp: e.address!.podIp,
        localAddress: e.address!.localAddress,
        logDir: e.runner!.logDir,
        pids: e.runner!.pids(),
      }));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watchAbort?.abort();
    this.heartbeat.stop();
    await this.loop;
    const grace = this.opts.shutdownGraceMs ?? 5_000;
    await Promise.all(
      [...this.entries.values()].map(async (e) => {
        clearTimeout(e.statusTimer);
        await e.work.catch(() => {});
        await e.runner?.terminate(grace);
      }),
    );
    if (this.opts.deleteNodeOnStop) {
      await this.core.deleteNode({ name: this.nodeName }).catch((err: unknown) => {
        if (code(err) !== 404) throw err;
      });
    }
    this.log.info('local node agent stopped: every container process has exited');
  }

  // --- watching the pods bound to this node

  private async listAndWatch(): Promise<void> {
    const fieldSelector = `spec.nodeName=${this.nodeName}`;
    while (!this.stopped) {
      try {
        const list = await this.core.listPodForAllNamespaces({ fieldSelector });
        const present = new Set<string>();
        for (const pod of list.items) {
          present.add(pod.metadata!.uid!);
          this.onPod(pod);
        }
        for (const uid of this.entries.keys()) if (!present.has(uid)) this.onGone(uid);
        for (const uid of this.finished) if (!present.has(uid)) this.finished.delete(uid);
        await this.watch(fieldSelector, list.metadata?.resourceVersion ?? '');
      } catch (err) {
        if (!this.stopped)
          this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'pod watch failed');
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, RELIST_DELAY_MS));
    }
  }

  /** Resolves when the watch ends (closed, expired, failed or aborted): the caller relists. */
  private watch(fieldSelector: string, resourceVersion: string): Promise<void> {
    return new Promise((resolve) => {
      const onEvent = (type: string, obj: V1Pod): void => {
        if (type === 'ADDED' || type === 'MODIFIED') this.onPod(obj);
        else if (type === 'DELETED') {
          this.onGone(obj.metadata!.uid!);
          this.finished.delete(obj.metadata!.uid!);
        } else if (type === 'ERROR') this.watchAbort?.abort(); // e.g. 410 Gone: relist
      };
      new Watch(this.opts.kubeConfig)
        .watch('/api/v1/pods', { fieldSelector, resourceVersion, allowWatchBookmarks: true }, onEvent, () =>
          resolve(),
        )
        .then(
          (ctrl) => {
            this.watchAbort = ctrl;
            if (this.stopped) ctrl.abort();
          },
          () => resolve(),
        );
    });
  }

  private onPod(pod: V1Pod): void {
    const uid = pod.metadata!.uid!;
    if (this.finished.has(uid)) return;
    let e = this.entries.get(uid);
    if (!e) {
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
      e = { pod, work: Promise.resolve(), deleting: false, statusWrite: Promise.resolve() };
      this.entries.set(uid, e);
      const entry = e;
      e.work = pod.metadata?.deletionTimestamp ? Promise.resolve() : this.startPod(entry);
    } else {
      e.pod = pod;
      e.runner?.update(pod);
    }
    if (pod.metadata?.deletionTimestamp && !e.deleting) {
      e.deleting = true;
      const entry = e;
      e.work = e.work.then(() => this.deletePod(entry));
    }
  }

  private onGone(uid: string): void {
    const e = this.entries.get(uid);
    if (!e || e.deleting) return;
    e.deleting = true;
    e.work = e.work.then(async () => {
      await e.runner?.terminate(FORCED_DELETION_GRACE_MS);
      this.forget(uid, e);
    });
  }

  // --- a pod's lifecycle

  private async startPod(e: PodEntry): Promise<void> {
    const pod = e.pod;
    const ports = [
      ...new Set((pod.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.containerPort))),
    ];
    try {
      e.address = await this.pool.allocate(ports);
      const podDir = join(
        this.runDir,
        `${pod.metadata!.namespace}_${pod.metadata!.name}_${pod.metadata!.uid}`,
      );
      e.runner = new PodRunner(pod, {
        repo: this.repo,
        podDir,
        address: e.address,
        podNetwork: this.opts.podNetwork ?? DEFAULT_POD_NETWORK,
        ...(this.opts.podKubeconfig ? { podKubeconfig: this.opts.podKubeconfig } : {}),
        hostIp: HOST_IP,
        log: this.log,
        readConfigMap: (namespace, name) =>
          this.core.readNamespacedConfigMap({ name, namespace }).catch((err: unknown) => {
            if (code(err) === 404) return undefined;
            throw err;
          }),
        ...(this.opts.imageAllowed ? { imageAllowed: this.opts.imageAllowed } : {}),
        onChange: () => this.scheduleStatus(e),
      });
      this.log.info(
        {
          pod: key(pod),
          podIp: e.address.podIp,
          localAddress: e.address.localAddress,
          logs: e.runner.logDir,
        },
        'starting pod',
      );
      await this.core
        .patchNamespacedPod(
          {
            name: pod.metadata!.name!,
            namespace: pod.metadata!.namespace!,
            body: { metadata: { annotations: { [LOG_DIR_ANNOTATION]: e.runner.logDir } } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        )
        .catch(() => {}); // best effort: the log line above names the directory too
      await e.runner.start();
    } catch (err) {
      this.log.error(
        { pod: key(pod), err: err instanceof Error ? err.message : String(err) },
        'could not start pod',
      );
    }
  }

  /** Graceful deletion: SIGTERM, the pod's grace period, SIGKILL; then the API object goes (grace 0). */
  private async deletePod(e: PodEntry): Promise<void> {
    const pod = e.pod;
    const graceS = pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    this.log.info({ pod: key(pod), graceSeconds: graceS }, 'pod deleted: stopping its containers');
    await e.runner?.terminate(graceS * 1000);
    clearTimeout(e.statusTimer);
    await e.statusWrite;
    await this.core
      .deleteNamespacedPod({
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid! } },
      })
      .catch((err: unknown) => {
        if (code(err) !== 404 && code(err) !== 409) throw err;
      });
    this.forget(pod.metadata!.uid!, e);
  }

  private forget(uid: string, e: PodEntry): void {
    clearTimeout(e.statusTimer);
    e.runner?.removeVolumes();
    if (e.address) this.pool.release(e.address.podIp);
    this.entries.delete(uid);
    this.finished.add(uid);
  }

  // --- status

  private scheduleStatus(e: PodEntry): void {
    if (e.statusTimer || e.deleting || this.stopped) return;
    e.statusTimer = setTimeout(() => {
      e.statusTimer = undefined;
      e.statusWrite = e.statusWrite.then(() => this.writeStatus(e));
    }, STATUS_DEBOUNCE_MS);
  }

  private async writeStatus(e: PodEntry): Promise<void> {
    if (!e.runner || e.deleting) return;
    const status = e.runner.status();
    const json = JSON.stringify(status);
    if (json === e.lastStatus) return;
    try {
      await this.core.patchNamespacedPodStatus(
        { name: e.pod.metadata!.name!, namespace: e.pod.metadata!.namespace!, body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      e.lastStatus = json;
    } catch (err) {
      if (code(err) === 404) return;
      this.log.warn(
        { pod: key(e.pod), err: err instanceof Error ? err.message : String(err) },
        'status write failed; retrying',
      );
      setTimeout(() => this.scheduleStatus(e), 1_000);
    }
  }
}
