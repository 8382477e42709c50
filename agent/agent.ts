// The local node agent, in the spirit of virtual-kubelet: registers a Node, keeps its heartbeats
// fresh, watches the pods bound to it and runs their lightrank containers as local processes on
// a loopback address of their own, writes their status (pod IP, readiness, restarts) through the
// status subresource, honours graceful deletion, and on stop leaves no process behind.
// With `runtime: 'containers'` the pods run as podman pods instead, each container from its
// image (agent/podman.ts): the pod IP in status is the sandbox's address on podman's network,
// reachable from this machine. Pods reach the API server the way in-cluster clients do
// (KUBERNETES_SERVICE_HOST=kubernetes.default.svc, the projected ServiceAccount token): the agent
// forwards the podman network's gateway, port for port, to the API server on 127.0.0.1 (the stand-in
// for kube-proxy and the `kubernetes` Service), and `exposeToPods(port)` does the same for any
// other loopback service of this machine a pod must reach (the demo's storage and Prometheus).
// See docs/local-node-agent.md.
//
// API:
//   startNodeAgent(opts) → Promise<NodeAgent>
//     NodeAgent: { nodeName, runDir, runtime, pods(), exposeToPods(port) → 'gateway:port', stop() }
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
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
import { listPods, networkGateway, PodSandbox, removePods, type PodmanOptions } from './podman.js';

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
/** Labels of the podman pods the agent creates: its node, and the pid of the agent process. */
const NODE_LABEL = 'dev.lightrank.agent-node';
const AGENT_PID_LABEL = 'dev.lightrank.agent-pid';
/** The API server's in-cluster name (a SAN of its serving certificate), as the pods resolve it. */
const API_SERVER_NAME = 'kubernetes.default.svc';

export type AgentRuntime = 'processes' | 'containers';

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
  /** how pods run: local processes of this checkout (default) or podman containers from their images */
  runtime?: AgentRuntime;
  /** container mode: environment of the podman CLI (default: this process's, with the project's containers.conf) */
  podman?: PodmanOptions;
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
  readonly runtime: AgentRuntime;
  pods(): LocalPodInfo[];
  /**
   * The address (`host:port`) at which pods reach a service of this machine listening on
   * 127.0.0.1:`port`. Container mode: the podman network's gateway, forwarded to it; process
   * mode: 127.0.0.1:`port` itself.
   */
  exposeToPods(port: number): Promise<string>;
  stop(): Promise<void>;
}

interface PodEntry {
  pod: V1Pod;
  runner?: PodRunner;
  sandbox?: PodSandbox;
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
  readonly runtime: AgentRuntime;
  /** container mode: the podman network's gateway, and the forwarders listening on it by port */
  private gateway: string | undefined;
  private readonly forwarders = new Map<number, Promise<Server>>();
  private readonly sockets = new Set<Socket>();
  private apiPort = 0;

  constructor(private readonly opts: NodeAgentOptions) {
    this.nodeName = opts.nodeName ?? DEFAULT_NODE_NAME;
    this.repo = opts.repo ?? REPO_ROOT;
    this.runDir = opts.runDir ?? mkdtempSync(join(tmpdir(), `lightrank-node-agent-${this.nodeName}-`));
    mkdirSync(this.runDir, { recursive: true });
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.log = (opts.log ?? createLogger('node-agent')).child({ node: this.nodeName });
    this.pool = new AddressPool(opts.podNetwork ?? DEFAULT_POD_NETWORK);
    this.heartbeat = new NodeHeartbeat(opts.kubeConfig, this.nodeName, this.log);
    this.runtime = opts.runtime ?? 'processes';
  }

  private get podmanOpts(): PodmanOptions {
    return this.opts.podman ?? {};
  }

  /** Container mode: the network's gateway, pods left by a dead agent of this node removed, the API server forwarded. */
  private async startContainerRuntime(): Promise<void> {
    const mine = await listPods({ [NODE_LABEL]: this.nodeName }, this.podmanOpts);
    const orphans = mine.filter((p) => !isAlive(Number(p.labels[AGENT_PID_LABEL])));
    if (orphans.length > 0) {
      this.log.warn({ pods: orphans.map((p) => p.name) }, 'removing podman pods left by an agent that died');
      await removePods(
        orphans.map((p) => p.name),
        this.podmanOpts,
      );
    }
    this.gateway = await networkGateway(this.podmanOpts);
    const server = new URL(this.opts.kubeConfig.getCurrentCluster()?.server ?? '');
    if (!['127.0.0.1', 'localhost'].includes(server.hostname))
      throw new Error(
        `container mode forwards an API server on 127.0.0.1 to the pods; this cluster's is ${server.host}`,
      );
    this.apiPort = Number(server.port || 443);
  }

  async exposeToPods(port: number): Promise<string> {
    if (this.runtime === 'processes') return `${HOST_IP}:${port}`;
    let server = this.forwarders.get(port);
    if (!server) {
      server = this.forward(port);
      this.forwarders.set(port, server);
      server.catch(() => this.forwarders.delete(port));
    }
    await server;
    return `${this.gateway}:${port}`;
  }

  /**
   * Listens on gateway:port and pipes each connection to 127.0.0.1:port. The gateway's address
   * exists only while a container is on podman's network; a listener bound to it keeps working
   * when the bridge goes and comes back, so the agent binds once, holding a bare pod of its own
   * (an infra container only) while it binds.
   */
  private async forward(port: number): Promise<Server> {
    const anchor = await PodSandbox.create(`${this.sandboxPrefix()}-net-${port}`, {
      ...this.podmanOpts,
      labels: this.podLabels(),
    });
    try {
      const server = createServer((inbound) => {
        const outbound = connect({ host: HOST_IP, port });
        this.sockets.add(inbound).add(outbound);
        const close = (): void => {
          inbound.destroy();
          outbound.destroy();
          this.sockets.delete(inbound);
          this.sockets.delete(outbound);
        };
        inbound.on('error', close).on('close', close);
        outbound.on('error', close).on('close', close);
        inbound.pipe(outbound).pipe(inbound);
      });
      const bound = await new Promise<boolean>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          err.code === 'EADDRINUSE' ? resolve(false) : reject(err),
        );
        server.listen({ host: this.gateway, port, exclusive: true }, () => resolve(true));
      });
      // Taken: another agent on this machine forwards the same port, and every forwarder goes to
      // 127.0.0.1 on the same port, so the pods reach the same service through it.
      if (!bound) this.log.warn({ port }, `${this.gateway}:${port} is forwarded by another agent already`);
      this.log.info({ address: `${this.gateway}:${port}`, to: `${HOST_IP}:${port}` }, 'forwarding to pods');
      return server;
    } finally {
      await anchor.remove().catch(() => undefined);
    }
  }

  private sandboxPrefix(): string {
    return `lightrank-${this.nodeName}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
  }

  private podLabels(): Record<string, string> {
    return { [NODE_LABEL]: this.nodeName, [AGENT_PID_LABEL]: String(process.pid) };
  }

  async start(): Promise<void> {
    if (this.runtime === 'containers') {
      await this.startContainerRuntime();
      await this.exposeToPods(this.apiPort);
    }
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
        await e.sandbox?.remove().catch(() => undefined);
      }),
    );
    for (const s of this.sockets) s.destroy();
    await Promise.all(
      [...this.forwarders.values()].map((f) =>
        f.then((server) => new Promise((resolve) => server.close(resolve))).catch(() => undefined),
      ),
    );
    if (this.opts.deleteNodeOnStop) {
      await this.core.deleteNode({ name: this.nodeName }).catch((err: unknown) => {
        if (code(err) !== 404) throw err;
      });
    }
    this.log.info(
      this.runtime === 'containers'
        ? 'local node agent stopped: every pod sandbox is removed'
        : 'local node agent stopped: every container process has exited',
    );
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
      await this.removeSandbox(e);
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
      if (this.runtime === 'containers') {
        e.sandbox = await PodSandbox.create(
          `${this.sandboxPrefix()}_${pod.metadata!.namespace}_${pod.metadata!.name}_${pod.metadata!.uid!.slice(0, 8)}`,
          {
            ...this.podmanOpts,
            labels: this.podLabels(),
            hostname: pod.spec?.hostname ?? pod.metadata!.name!.slice(0, 63),
            hosts: { [API_SERVER_NAME]: this.gateway! },
          },
        );
        // the pod IP is the sandbox's own: reachable from this machine, as on a pod network
        e.address = { podIp: e.sandbox.ip, localAddress: e.sandbox.ip };
      } else {
        e.address = await this.pool.allocate(ports);
      }
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
        readSecret: (namespace, name) =>
          this.core.readNamespacedSecret({ name, namespace }).catch((err: unknown) => {
            if (code(err) === 404) return undefined;
            throw err;
          }),
        ...(this.opts.imageAllowed ? { imageAllowed: this.opts.imageAllowed } : {}),
        onChange: () => this.scheduleStatus(e),
        ...(e.sandbox
          ? {
              sandbox: e.sandbox,
              apiServer: { host: API_SERVER_NAME, port: this.apiPort },
              requestToken: (req) => this.requestToken(pod, req),
            }
          : {}),
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
    await this.removeSandbox(e);
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

  private async removeSandbox(e: PodEntry): Promise<void> {
    const sandbox = e.sandbox;
    e.sandbox = undefined;
    await sandbox
      ?.remove()
      .catch((err: unknown) =>
        this.log.warn(
          { pod: key(e.pod), sandbox: sandbox.name, err: err instanceof Error ? err.message : String(err) },
          'could not remove the pod sandbox',
        ),
      );
  }

  /** TokenRequest for the pod's ServiceAccount, bound to the pod (as a kubelet asks for it). */
  private async requestToken(
    pod: V1Pod,
    req: { serviceAccount: string; expirationSeconds: number; audience?: string },
  ): Promise<string> {
    const res = await this.core.createNamespacedServiceAccountToken({
      name: req.serviceAccount,
      namespace: pod.metadata!.namespace!,
      body: {
        spec: {
          audiences: req.audience ? [req.audience] : [],
          expirationSeconds: req.expirationSeconds,
          boundObjectRef: {
            apiVersion: 'v1',
            kind: 'Pod',
            name: pod.metadata!.name!,
            uid: pod.metadata!.uid!,
          },
        },
      },
    });
    const token = res.status?.token;
    if (!token) throw new Error(`TokenRequest for ServiceAccount ${req.serviceAccount} returned no token`);
    return token;
  }

  private forget(uid: string, e: PodEntry): void {
    clearTimeout(e.statusTimer);
    e.runner?.removeVolumes();
    if (e.address && this.runtime === 'processes') this.pool.release(e.address.podIp);
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

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
