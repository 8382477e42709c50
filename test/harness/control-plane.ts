// The control plane in a box: starts etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok on loopback with free ports, each in its own process group, waits
// until they serve, writes an admin kubeconfig and creates fake GPU and CPU nodes. Several can
// run at once (each has its own run directory and ports). stop() leaves no process behind.
import { KubeConfig, CoreV1Api, type V1Node } from '@kubernetes/client-node';
import { readFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  auditPolicyYaml,
  countAuditWrites,
  readAuditEvents,
  type AuditEvent,
  type AuditFilter,
} from './audit.js';
import { ensureBinaries, type ControlPlaneBinaries } from './binaries.js';
import { writeKubeconfig } from './kubeconfig.js';
import { cpuNode, gpuNode, H100, type GpuModel } from './nodes.js';
import { createPki, FRONT_PROXY_CLIENT, type Pki } from './pki.js';
import { freePort } from './ports.js';
import {
  claimRunDir,
  logTail,
  reapOrphans,
  releaseRunDir,
  spawnComponent,
  type ManagedProcess,
} from './processes.js';
import { waitFor } from './wait.js';

export const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] as const;
export type Component = (typeof COMPONENTS)[number];

/** Where run directories live; a start reaps the leftovers of crashed runs found here. */
export const DEFAULT_RUN_ROOT = join(tmpdir(), 'lightrank-control-planes');
export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
const KUBERNETES_SERVICE_IP = '10.96.0.1';
const API_SERVER_GRACE_MS = 2_000;

export interface ControlPlaneOptions {
  gpuNodes?: number;
  gpusPerNode?: number;
  gpuModel?: GpuModel;
  cpuNodes?: number;
  /** parent of the run directory (default: DEFAULT_RUN_ROOT) */
  runRoot?: string;
  /** keep the run directory (logs, etcd data, certificates) after stop() */
  keepRunDir?: boolean;
  /** build output only on failure */
  quietBuild?: boolean;
  /** one line per step, for people watching */
  onProgress?: (message: string) => void;
  /** for everything to come up, once the binaries exist (default 120 s) */
  readyTimeoutMs?: number;
  /**
   * kube-controller-manager's --horizontal-pod-autoscaler-sync-period in seconds (Kubernetes'
   * default: 15): how often the HPA controller looks at metrics; tests of autoscaling shorten it.
   */
  hpaSyncPeriodSeconds?: number;
}

export interface ControlPlane {
  runDir: string;
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  serverUrl: string;
  auditLogPath: string;
  binaries: ControlPlaneBinaries;
  /** the run's certificates: its CA signs serving certificates of extension API servers too */
  pki: Pki;
  nodes: { gpu: string[]; cpu: string[] };
  /** pids of the running components (each leads its own process group) */
  pids(): Partial<Record<Component, number>>;
  /** log file of each component */
  logs: Record<Component, string>;
  auditEvents(filter?: AuditFilter): AuditEvent[];
  /** counts write requests (create/update/patch/delete) in the audit log */
  countAuditWrites(filter?: AuditFilter): number;
  /** stops the API server and starts it again on the same port; resolves once it is ready */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const progress = opts.onProgress ?? (() => {});
  const binaries = await ensureBinaries({ quiet: opts.quietBuild ?? false });
  const runRoot = opts.runRoot ?? DEFAULT_RUN_ROOT;
  mkdirSync(runRoot, { recursive: true });
  const reaped = reapOrphans(runRoot);
  if (reaped.killed.length > 0)
    progress(`reaped ${reaped.killed.length} leftover processes of a crashed run`);

  // Free ports are picked before the components bind them; another process (a parallel run)
  // can take one in between. That failure is retried with new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binaries, runRoot, opts, progress);
    } catch (err) {
      const lostPortRace = err instanceof Error && err.message.includes('address already in use');
      if (!lostPortRace || attempt >= 3) throw err;
      progress(`a port was taken meanwhile; retrying with new ports (attempt ${attempt + 1})`);
    }
  }
}

async function startOnce(
  binaries: ControlPlaneBinaries,
  runRoot: string,
  opts: ControlPlaneOptions,
  progress: (m: string) => void,
): Promise<ControlPlane> {
  const runDir = mkdtempSync(join(runRoot, `cp-${process.pid}-`));
  const keep = opts.keepRunDir ?? false;
  claimRunDir(runDir, !keep);
  const cp = new Runner(runDir, binaries, opts.readyTimeoutMs ?? 120_000, progress);
  try {
    return await cp.start(opts, keep);
  } catch (err) {
    const tails = cp.logTails();
    await cp.stopAll();
    releaseRunDir(runDir, !keep);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tails}`, { cause: err });
  }
}

class Runner {
  private procs = new Map<Component, ManagedProcess>();
  private apiserverArgs: string[] = [];
  private pki!: Pki;
  private serverUrl = '';
  readonly logs: Record<Component, string>;

  constructor(
    private readonly runDir: string,
    private readonly bins: ControlPlaneBinaries,
    private readonly timeoutMs: number,
    private readonly progress: (m: string) => void,
  ) {
    mkdirSync(join(runDir, 'logs'));
    this.logs = Object.fromEntries(COMPONENTS.map((c) => [c, join(runDir, 'logs', `${c}.log`)])) as Record<
      Component,
      string
    >;
  }

  async start(opts: ControlPlaneOptions, keep: boolean): Promise<ControlPlane> {
    const t0 = Date.now();
    const dir = this.runDir;
    const [etcdPort, etcdPeerPort, apiPort, kwokPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    this.serverUrl = `https://127.0.0.1:${apiPort}`;

    this.pki = await createPki(join(dir, 'pki'), {
      serverNames: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
      serverIps: ['127.0.0.1', KUBERNETES_SERVICE_IP],
      clients: [
        // Components act as system:masters: the harness trades least privilege for fewer moving parts.
        { id: 'admin', commonName: 'lightrank-admin', organizations: ['system:masters'] },
        {
          id: 'controller-manager',
          commonName: 'system:kube-controller-manager',
          organizations: ['system:masters'],
        },
        { id: 'scheduler', commonName: 'system:kube-scheduler', organizations: ['system:masters'] },
        { id: 'kwok', commonName: 'kwok', organizations: ['system:masters'] },
      ],
    });
    const kubeconfig = (id: string): string =>
      writeKubeconfig(join(dir, `${id}.kubeconfig`), {
        server: this.serverUrl,
        caFile: this.pki.ca.cert,
        certFile: this.pki.clients[id]!.cert,
        keyFile: this.pki.clients[id]!.key,
        user: id,
        clusterName: 'lightrank-local',
      });
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeKubeconfig(kubeconfigPath, {
      server: this.serverUrl,
      caFile: this.pki.ca.cert,
      certFile: this.pki.clients.admin!.cert,
      keyFile: this.pki.clients.admin!.key,
      user: 'lightrank-admin',
      clusterName: 'lightrank-local',
    });
    const auditPolicy = join(dir, 'audit-policy.yaml');
    writeFileSync(auditPolicy, auditPolicyYaml());
    const auditLogPath = join(dir, 'audit.log');

    this.progress(`starting etcd on 127.0.0.1:${etcdPort}`);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    this.spawn('etcd', this.bins.etcd, [
      '--name=lightrank',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=lightrank=${peerUrl}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await this.waitHealthy('etcd', async () => {
      const res = await fetch(`${etcdUrl}/health`);
      const body = (await res.json()) as { health?: string };
      return res.ok && body.health === 'true';
    });

    this.progress(`starting kube-apiserver on ${this.serverUrl}`);
    this.apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'pki')}`,
      `--tls-cert-file=${this.pki.server.cert}`,
      `--tls-private-key-file=${this.pki.server.key}`,
      `--client-ca-file=${this.pki.ca.cert}`,
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${this.pki.serviceAccount.publicKey}`,
      `--service-account-signing-key-file=${this.pki.serviceAccount.privateKey}`,
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      `--audit-policy-file=${auditPolicy}`,
      `--audit-log-path=${auditLogPath}`,
      '--audit-log-format=json',
      '--allow-privileged=true',
      // Nothing runs inside the cluster that would reach the API server through its Service.
      '--endpoint-reconciler-type=none',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      // the aggregation layer, for extension API servers such as the custom metrics API's
      // (prometheus-adapter): requests proxied to them carry the user in headers, vouched for by
      // the front proxy's client certificate. An APIService whose Service is an ExternalName
      // (e.g. localhost) is reached at that name: nothing routes Service IPs here.
      `--requestheader-client-ca-file=${this.pki.frontProxy.ca.cert}`,
      `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${this.pki.frontProxy.client.cert}`,
      `--proxy-client-key-file=${this.pki.frontProxy.client.key}`,
    ];
    this.spawn('kube-apiserver', this.bins.kubeApiserver, this.apiserverArgs);
    await this.waitApiServerReady();

    this.progress('starting kube-controller-manager, kube-scheduler and kwok');
    this.spawn('kube-controller-manager', this.bins.kubeControllerManager, [
      `--kubeconfig=${kubeconfig('controller-manager')}`,
      '--leader-elect=false',
      '--controllers=*',
      '--secure-port=0',
      `--service-account-private-key-file=${this.pki.serviceAccount.privateKey}`,
      `--root-ca-file=${this.pki.ca.cert}`,
      `--cluster-signing-cert-file=${this.pki.ca.cert}`,
      `--cluster-signing-key-file=${this.pki.ca.key}`,
      '--use-service-account-credentials=false',
      // client-go's default 20 QPS throttles ReplicaSet/pod creation long before the API server is
      // busy; a real control plane runs it higher too. The operator benchmark measures the operator.
      '--kube-api-qps=200',
      '--kube-api-burst=400',
      ...(opts.hpaSyncPeriodSeconds !== undefined
        ? [`--horizontal-pod-autoscaler-sync-period=${opts.hpaSyncPeriodSeconds}s`]
        : []),
    ]);
    this.spawn('kube-scheduler', this.bins.kubeScheduler, [
      `--kubeconfig=${kubeconfig('scheduler')}`,
      '--leader-elect=false',
      '--secure-port=0',
    ]);
    const stages = this.bins.kwokStagesDir;
    this.spawn('kwok', this.bins.kwok, [
      `--kubeconfig=${kubeconfig('kwok')}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      `--server-address=127.0.0.1:${kwokPort}`,
      // heartbeats through node leases, as kubelets do; without them nodes turn NotReady
      '--node-lease-duration-seconds=40',
      '--cidr=10.244.0.0/16',
      `--config=${join(stages, 'node', 'fast', 'node-initialize.yaml')}`,
      `--config=${join(stages, 'node', 'heartbeat-with-lease', 'node-heartbeat-with-lease.yaml')}`,
      `--config=${join(stages, 'pod', 'fast', 'pod-ready.yaml')}`,
      `--config=${join(stages, 'pod', 'fast', 'pod-complete.yaml')}`,
      `--config=${join(stages, 'pod', 'fast', 'pod-delete.yaml')}`,
    ]);
    await this.waitHealthy('kwok', async () => (await fetch(`http://127.0.0.1:${kwokPort}/healthz`)).ok);

    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const gpuCount = opts.gpuNodes ?? 2;
    const cpuCount = opts.cpuNodes ?? 2;
    const gpus = opts.gpusPerNode ?? 8;
    const wanted: V1Node[] = [
      ...Array.from({ length: gpuCount }, (_, i) => gpuNode(`gpu-node-${i}`, gpus, opts.gpuModel ?? H100)),
      ...Array.from({ length: cpuCount }, (_, i) => cpuNode(`cpu-node-${i}`)),
    ];
    this.progress(`creating ${gpuCount} GPU nodes (${gpus} GPUs each) and ${cpuCount} CPU nodes`);
    for (const node of wanted) await core.createNode({ body: node });
    const names = wanted.map((n) => n.metadata!.name!);
    // Ready (kwok) and the not-ready taint lifted (node lifecycle controller): schedulable.
    await this.waitHealthy(`nodes ${names.join(', ')} Ready and schedulable`, async () => {
      const list = await core.listNode();
      const ready = list.items.filter(
        (n) =>
          n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
          !n.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/')),
      );
      return names.every((name) => ready.some((n) => n.metadata?.name === name));
    });
    // The service-account controller works once `default` has its ServiceAccount.
    await this.waitHealthy('ServiceAccount default/default (controller-manager)', async () => {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      return true;
    });
    this.progress(`control plane ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);

    return {
      runDir: dir,
      kubeconfigPath,
      kubeConfig: kc,
      serverUrl: this.serverUrl,
      auditLogPath,
      binaries: this.bins,
      pki: this.pki,
      nodes: { gpu: names.slice(0, gpuCount), cpu: names.slice(gpuCount) },
      logs: this.logs,
      pids: () =>
        Object.fromEntries([...this.procs].filter(([, p]) => p.isRunning()).map(([c, p]) => [c, p.pid])),
      auditEvents: (filter) => readAuditEvents(auditLogPath, filter),
      countAuditWrites: (filter) => countAuditWrites(auditLogPath, filter),
      restartApiServer: () => this.restartApiServer(),
      stop: async () => {
        await this.stopAll();
        releaseRunDir(dir, !keep);
      },
    };
  }

  private spawn(name: Component, bin: string, args: string[]): ManagedProcess {
    const proc = spawnComponent({ name, bin, args, runDir: this.runDir, logPath: this.logs[name] });
    this.procs.set(name, proc);
    return proc;
  }

  private async waitHealthy(what: string, probe: () => Promise<boolean>): Promise<void> {
    await waitFor(what, probe, {
      timeoutMs: this.timeoutMs,
      abortIf: () => {
        const dead = [...this.procs.values()].find((p) => !p.isRunning());
        return dead ? `${dead.name} exited (log: ${dead.logPath})` : undefined;
      },
    });
  }

  private async waitApiServerReady(): Promise<void> {
    const tls = {
      ca: readFileSync(this.pki.ca.cert),
      cert: readFileSync(this.pki.clients.admin!.cert),
      key: readFileSync(this.pki.clients.admin!.key),
    };
    await this.waitHealthy('kube-apiserver /readyz', async () => {
      const { status, body } = await httpsGet(`${this.serverUrl}/readyz`, tls);
      if (status !== 200) throw new Error(`/readyz answered ${status}: ${body.slice(0, 300)}`);
      return true;
    });
  }

  private async restartApiServer(): Promise<void> {
    const old = this.procs.get('kube-apiserver');
    if (!old) throw new Error('restartApiServer: the API server was never started');
    this.progress('restarting kube-apiserver');
    // Open watches (controllers, kwok, the code under test) keep a SIGTERMed API server draining
    // for up to a minute; after a short grace it is killed, as a crash would.
    await old.stop(API_SERVER_GRACE_MS);
    this.spawn('kube-apiserver', this.bins.kubeApiserver, this.apiserverArgs);
    await this.waitApiServerReady();
  }

  /** Clients of the API server first, then the API server, then etcd. */
  async stopAll(): Promise<void> {
    const stop = (names: Component[], graceMs?: number): Promise<void[]> =>
      Promise.all(names.map((n) => this.procs.get(n)?.stop(graceMs) ?? Promise.resolve()));
    await stop(['kwok', 'kube-scheduler', 'kube-controller-manager']);
    await stop(['kube-apiserver'], API_SERVER_GRACE_MS);
    await stop(['etcd']);
  }

  logTails(): string {
    return [...this.procs.values()]
      .map(
        (p) =>
          `--- ${p.name} (${p.isRunning() ? 'running' : 'exited'}), ${p.logPath}:\n${logTail(p.logPath, 15)}`,
      )
      .join('\n');
  }
}

function httpsGet(
  url: string,
  tls: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}
