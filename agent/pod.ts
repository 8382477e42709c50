// One pod on the local node: its volumes as directories (emptyDir empty, configMap written from
// the API and refreshed), each container as a local process with its probes, restarts with
// backoff per restartPolicy, and the pod status a kubelet would report. The agent owns the API
// side (watching, writing status, deleting); this module only runs and describes the pod.
//
// Two runtimes, one lifecycle: with `deps.sandbox` (container mode) each container runs from its
// image in the pod's podman sandbox (agent/podman.ts): the volumes' directories bind-mounted at
// their mountPaths, the spec's env (plus KUBERNETES_SERVICE_HOST/PORT), its securityContext, the
// projected ServiceAccount token volume written as a kubelet writes it; probes reach the pod IP.
// Without it (process mode) a container is lightrank's entry point run as a process of this
// checkout (agent/commands.ts), its paths mapped onto the volumes' directories.
//
// API:
//   new PodRunner(pod, deps); start(); update(pod); status() → V1PodStatus; terminate(graceMs); removeVolumes()
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type {
  V1ConfigMap,
  V1Container,
  V1ContainerState,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
  V1PodStatus,
  V1ProjectedVolumeSource,
  V1Secret,
} from '@kubernetes/client-node';
import type { Logger } from '../lib/logger.js';
import type { PodAddress } from './addresses.js';
import { ENTRY_HOST_FLAG, entryLocalDefaults, planContainer, UnsupportedContainerError } from './commands.js';
import {
  containerEnv,
  fieldValue,
  mapPath,
  secretNames,
  specEnv,
  type Mount,
  type Secrets,
} from './container-env.js';
import { ContainerConfigError, containerRunArgs, type PodSandbox, type VolumeMount } from './podman.js';
import { ProbeLoop, unsupportedProbe } from './probes.js';
import { startProcess, type ExitStatus, type LocalProcess } from './process.js';

/** Restart backoff: 1 s doubling to 30 s (a kubelet uses 10 s to 5 min), reset after 60 s of running. */
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
const BACKOFF_RESET_MS = 60_000;
/** How often configMap volumes are re-read from the API (a kubelet: about a minute). */
const CONFIGMAP_REFRESH_MS = 2_000;

export interface PodRunnerDeps {
  repo: string;
  /** this pod's directory: logs/ and volumes/ */
  podDir: string;
  address: PodAddress;
  /** first two octets of the pod IPs, e.g. 10.250 */
  podNetwork: string;
  /** kubeconfig the pod's processes reach the API server with (instead of a ServiceAccount) */
  podKubeconfig?: string;
  hostIp: string;
  log: Logger;
  readConfigMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  /** a Secret the pod's env names (envFrom, secretKeyRef); undefined when there is none */
  readSecret?(namespace: string, name: string): Promise<V1Secret | undefined>;
  imageAllowed?: (image: string) => boolean;
  /** called whenever what status() returns may have changed */
  onChange(): void;
  /** container mode: the pod's sandbox, where its containers run from their images */
  sandbox?: PodSandbox;
  /** container mode: where the containers reach the API server (KUBERNETES_SERVICE_HOST/PORT) */
  apiServer?: { host: string; port: number };
  /** container mode: a token of the pod's ServiceAccount bound to the pod (TokenRequest) */
  requestToken?(req: {
    serviceAccount: string;
    expirationSeconds: number;
    audience?: string;
  }): Promise<string>;
}

/** A container that cannot be created as the spec says, with the kubelet's waiting reason. */
class CreateRefusal extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

interface Terminated {
  exitCode: number;
  signal?: string;
  reason: string;
  message?: string;
  startedAt: Date;
  finishedAt: Date;
}

class ContainerRunner {
  proc: LocalProcess | undefined;
  waiting: { reason: string; message?: string } | undefined = { reason: 'ContainerCreating' };
  terminated: Terminated | undefined;
  lastTerminated: Terminated | undefined;
  restartCount = 0;
  ready = false;
  /** a permanent refusal: never started */
  refused = false;
  crashes = 0;
  argv: string[] = [];
  env: Record<string, string> = {};
  /** container mode: `podman run` arguments */
  runArgs: string[] = [];
  /** container mode: a `podman run` in flight */
  launching: Promise<void> | undefined;
  readiness: ProbeLoop | undefined;
  liveness: ProbeLoop | undefined;
  backoff: NodeJS.Timeout | undefined;
  killReason: string | undefined;

  constructor(
    readonly spec: V1Container,
    readonly logPath: string,
  ) {}

  /** the host file bound (container mode) or mapped (process mode) at terminationMessagePath */
  terminationFile(podDir: string): string {
    return join(podDir, 'termination', this.spec.name);
  }

  stopProbes(): void {
    this.readiness?.stop();
    this.liveness?.stop();
  }
}

export class PodRunner {
  private readonly containers: ContainerRunner[];
  private readonly conditionTimes = new Map<string, { status: string; time: Date }>();
  private readonly startTime = new Date();
  private readonly log: Logger;
  private terminating = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private podMessage: string | undefined;
  private volumeDirs = new Map<string, string>();
  /** volumes a container may write (emptyDir); configMap and projected ones are read-only */
  private writableVolumes = new Set<string>();

  constructor(
    private pod: V1Pod,
    private readonly deps: PodRunnerDeps,
  ) {
    this.log = deps.log.child({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}` });
    mkdirSync(join(deps.podDir, 'logs'), { recursive: true });
    this.containers = (pod.spec?.containers ?? []).map(
      (c) => new ContainerRunner(c, join(deps.podDir, 'logs', `${c.name}.log`)),
    );
  }

  get logDir(): string {
    return join(this.deps.podDir, 'logs');
  }

  /** pid of each running container */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(
      this.containers.map((c) => [c.spec.name, c.proc?.isRunning() ? c.proc.pid : undefined]),
    );
  }

  update(pod: V1Pod): void {
    this.pod = pod;
  }

  async start(): Promise<void> {
    mkdirSync(join(this.deps.podDir, 'volumes', '.tmp'), { recursive: true });
    await this.prepareVolumes();
    const refusals: string[] = [];
    const podRefusal = this.pod.spec?.initContainers?.length
      ? 'init containers are not supported by the local node agent'
      : undefined;
    for (const c of this.containers) {
      try {
        if (podRefusal) throw new UnsupportedContainerError('UnsupportedCommand', podRefusal);
        const secrets = await this.readSecrets(c.spec);
        if (this.deps.sandbox) await this.prepareContainerRun(c, this.deps.sandbox, secrets);
        else this.prepare(c, secrets);
      } catch (err) {
        const reason =
          err instanceof UnsupportedContainerError ||
          err instanceof ContainerConfigError ||
          err instanceof CreateRefusal
            ? err.reason
            : 'CreateContainerError';
        const message = err instanceof Error ? err.message : String(err);
        c.waiting = { reason, message };
        c.refused = true;
        if (!refusals.includes(message)) refusals.push(message);
        this.log.warn({ container: c.spec.name, reason }, message);
      }
    }
    this.podMessage = refusals.length ? `lightrank local node agent: ${refusals.join('; ')}` : undefined;
    for (const c of this.containers) if (!c.refused) this.startContainer(c);
    this.scheduleRefresh();
    this.deps.onChange();
  }

  /** The Secrets the container's env names, read from the API as a kubelet reads them. */
  private async readSecrets(spec: V1Container): Promise<Secrets> {
    const namespace = this.pod.metadata?.namespace ?? 'default';
    const secrets: Secrets = new Map();
    for (const name of secretNames(spec)) {
      const secret = this.deps.readSecret ? await this.deps.readSecret(namespace, name) : undefined;
      secrets.set(
        name,
        secret &&
          Object.fromEntries([
            ...Object.entries(secret.data ?? {}).map(([k, v]) => [
              k,
              Buffer.from(v, 'base64').toString('utf8'),
            ]),
            ...Object.entries(secret.stringData ?? {}),
          ]),
      );
    }
    return secrets;
  }

  private prepare(c: ContainerRunner, secrets: Secrets): void {
    const plan = planContainer(c.spec, {
      repo: this.deps.repo,
      ...(this.deps.imageAllowed ? { imageAllowed: this.deps.imageAllowed } : {}),
    });
    for (const probe of [c.spec.readinessProbe, c.spec.livenessProbe, c.spec.startupProbe]) {
      const why = unsupportedProbe(probe);
      if (why)
        throw new UnsupportedContainerError(
          'UnsupportedCommand',
          `container "${c.spec.name}": ${why} are not supported by the local node agent`,
        );
    }
    const mounts: Mount[] = [];
    let tmpDir = join(this.deps.podDir, 'volumes', '.tmp');
    for (const vm of c.spec.volumeMounts ?? []) {
      const dir = this.volumeDirs.get(vm.name);
      if (!dir) continue;
      const hostPath = vm.subPath ? join(dir, vm.subPath) : dir;
      // A volume at /tmp (a read-only root's scratch space) becomes the process's TMPDIR, not a
      // path mapping: paths on this machine that the harness hands a pod (a kubeconfig, a file://
      // store) live under the machine's /tmp and must stay as they are.
      if (vm.mountPath.replace(/\/+$/, '') === '/tmp') tmpDir = hostPath;
      else mounts.push({ mountPath: vm.mountPath, hostPath });
    }
    // the termination message file, as a kubelet mounts it: a path naming it follows it here
    mounts.push({
      mountPath: c.spec.terminationMessagePath ?? DEFAULT_TERMINATION_MESSAGE_PATH,
      hostPath: this.terminationFileFor(c),
    });
    c.env = containerEnv(c.spec, this.pod, {
      entry: plan.entry,
      podIp: this.deps.address.podIp,
      hostIp: this.deps.hostIp,
      localAddress: this.deps.address.localAddress,
      mounts,
      tmpDir,
      secrets,
      defaults: entryLocalDefaults(plan.entry, {
        podNetwork: this.deps.podNetwork,
        ...(this.deps.podKubeconfig ? { kubeconfigPath: this.deps.podKubeconfig } : {}),
      }),
    });
    const hostFlag = ENTRY_HOST_FLAG[plan.entry];
    // arguments that are paths under a volume follow it, as environment values do
    const mapped = plan.args.map((a) => (a.startsWith('/') ? (mapPath(a, mounts) ?? a) : a));
    const args =
      hostFlag && !mapped.includes(hostFlag) ? [...mapped, hostFlag, this.deps.address.localAddress] : mapped;
    c.argv = [process.execPath, '--import', 'tsx', plan.script, ...args];
  }

  /** Container mode: what `podman run` needs for this container, checked before anything starts. */
  private async prepareContainerRun(
    c: ContainerRunner,
    sandbox: PodSandbox,
    secrets: Secrets,
  ): Promise<void> {
    for (const probe of [c.spec.readinessProbe, c.spec.livenessProbe, c.spec.startupProbe]) {
      const why = unsupportedProbe(probe);
      if (why)
        throw new CreateRefusal(
          'CreateContainerConfigError',
          `container "${c.spec.name}": ${why} are not supported by the local node agent`,
        );
    }
    const image = c.spec.image ?? '';
    let imageUser: string;
    try {
      imageUser = await sandbox.imageUser(image);
    } catch {
      throw new CreateRefusal(
        'ErrImageNeverPull',
        `container "${c.spec.name}": image "${image}" is not on this machine and the local node agent never pulls (build it: scripts/build-images.sh)`,
      );
    }
    const mounts: VolumeMount[] = [];
    for (const vm of c.spec.volumeMounts ?? []) {
      const dir = this.volumeDirs.get(vm.name);
      if (!dir)
        throw new CreateRefusal(
          'CreateContainerConfigError',
          `container "${c.spec.name}": volume "${vm.name}" is not an emptyDir, configMap or ServiceAccount token volume; the local node agent mounts no other kind`,
        );
      const readOnly = vm.readOnly === true || !this.writableVolumes.has(vm.name);
      mounts.push({ hostPath: vm.subPath ? join(dir, vm.subPath) : dir, mountPath: vm.mountPath, readOnly });
    }
    // the termination message file, as a kubelet mounts it: a host file bound at
    // terminationMessagePath, writable by whatever user the container runs as (0666, as a
    // kubelet makes it); read back when the container ends (terminationMessage)
    mounts.push({
      hostPath: this.terminationFileFor(c),
      mountPath: c.spec.terminationMessagePath ?? DEFAULT_TERMINATION_MESSAGE_PATH,
      readOnly: false,
    });
    const api = this.deps.apiServer;
    const env = {
      ...(api
        ? {
            KUBERNETES_SERVICE_HOST: api.host,
            KUBERNETES_SERVICE_PORT: String(api.port),
            KUBERNETES_SERVICE_PORT_HTTPS: String(api.port),
          }
        : {}),
      ...specEnv(c.spec, this.pod, { podIp: this.deps.address.podIp, hostIp: this.deps.hostIp, secrets }),
    };
    c.runArgs = containerRunArgs(this.pod, c.spec, {
      podName: sandbox.name,
      name: `${sandbox.name}-${c.spec.name}`,
      env,
      mounts,
      imageUser,
      logPath: c.logPath,
    });
  }

  /** The container's termination message file, created empty (0666) if it is not there yet. */
  private terminationFileFor(c: ContainerRunner): string {
    const file = c.terminationFile(this.deps.podDir);
    mkdirSync(join(this.deps.podDir, 'termination'), { recursive: true });
    writeFileSync(file, '');
    chmodSync(file, 0o666);
    return file;
  }

  private startContainer(c: ContainerRunner): void {
    if (this.terminating) return;
    if (this.deps.sandbox) {
      try {
        writeFileSync(c.terminationFile(this.deps.podDir), ''); // each run's message is its own
      } catch {
        // prepareContainerRun made it; a file that is gone now leaves the run without a message
      }
      const sandbox = this.deps.sandbox;
      c.launching = this.launchContainer(c, sandbox).finally(() => (c.launching = undefined));
      return;
    }
    let proc: LocalProcess;
    try {
      writeFileSync(c.terminationFile(this.deps.podDir), ''); // each run's message is its own
      proc = startProcess({ argv: c.argv, cwd: this.deps.repo, env: c.env, logPath: c.logPath });
    } catch (err) {
      c.waiting = { reason: 'StartError', message: err instanceof Error ? err.message : String(err) };
      this.log.error({ container: c.spec.name }, c.waiting.message!);
      this.deps.onChange();
      return;
    }
    this.started(c, proc);
  }

  private async launchContainer(c: ContainerRunner, sandbox: PodSandbox): Promise<void> {
    let proc: LocalProcess;
    try {
      proc = await sandbox.run(c.runArgs);
    } catch (err) {
      // the kubelet's RunContainerError, retried with the crash backoff
      const message = err instanceof Error ? err.message : String(err);
      this.log.error({ container: c.spec.name }, message);
      if (this.terminating) return;
      const delay = Math.min(BACKOFF_BASE_MS * 2 ** c.crashes, BACKOFF_MAX_MS);
      c.crashes++;
      c.waiting = { reason: 'RunContainerError', message };
      c.backoff = setTimeout(() => this.startContainer(c), delay);
      this.deps.onChange();
      return;
    }
    if (this.terminating) {
      await proc.stop(0);
      return;
    }
    this.started(c, proc);
  }

  private started(c: ContainerRunner, proc: LocalProcess): void {
    c.proc = proc;
    c.waiting = undefined;
    c.terminated = undefined;
    c.ready = false;
    c.killReason = undefined;
    this.log.info({ container: c.spec.name, pid: proc.pid, log: c.logPath }, 'container started');
    const address = this.deps.address.localAddress;
    if (c.spec.readinessProbe) {
      c.readiness = new ProbeLoop(
        c.spec.readinessProbe,
        c.spec,
        address,
        (passing) => {
          c.ready = passing && proc.isRunning();
          this.deps.onChange();
        },
        true,
      );
      c.readiness.start();
    } else {
      c.ready = true;
    }
    if (c.spec.livenessProbe) {
      c.liveness = new ProbeLoop(c.spec.livenessProbe, c.spec, address, (passing) => {
        if (passing || !proc.isRunning() || this.terminating) return;
        this.log.warn(
          { container: c.spec.name, pid: proc.pid },
          'liveness probe failed: restarting the container',
        );
        c.killReason = 'liveness probe failed';
        void proc.stop(this.graceMs());
      });
      c.liveness.start();
    }
    void proc.exited.then((status) => this.onExit(c, proc, status));
    this.deps.onChange();
  }

  private onExit(c: ContainerRunner, proc: LocalProcess, status: ExitStatus): void {
    c.stopProbes();
    c.ready = false;
    const runMs = status.finishedAt.getTime() - proc.startedAt.getTime();
    const terminated: Terminated = {
      exitCode: status.exitCode,
      ...(status.signal ? { signal: status.signal } : {}),
      reason: status.reason ?? (status.exitCode === 0 ? 'Completed' : 'Error'),
      ...terminationMessage(c, this.deps.podDir, status.exitCode),
      startedAt: proc.startedAt,
      finishedAt: status.finishedAt,
    };
    this.log.info(
      {
        container: c.spec.name,
        pid: proc.pid,
        exitCode: status.exitCode,
        signal: status.signal,
        log: c.logPath,
      },
      'container exited',
    );
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    const restart =
      !this.terminating && (policy === 'Always' || (policy === 'OnFailure' && status.exitCode !== 0));
    if (!restart) {
      c.terminated = terminated;
      this.deps.onChange();
      return;
    }
    if (runMs >= BACKOFF_RESET_MS) c.crashes = 0;
    const delay = Math.min(BACKOFF_BASE_MS * 2 ** c.crashes, BACKOFF_MAX_MS);
    c.crashes++;
    c.lastTerminated = terminated;
    c.waiting = {
      reason: 'CrashLoopBackOff',
      message: `back-off ${delay / 1000}s restarting failed container=${c.spec.name}; log: ${c.logPath}`,
    };
    c.backoff = setTimeout(() => {
      c.restartCount++;
      this.startContainer(c);
    }, delay);
    this.deps.onChange();
  }

  private graceMs(): number {
    return (this.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
  }

  /** Stops every container: SIGTERM, `graceMs`, SIGKILL. Nothing restarts afterwards. */
  async terminate(graceMs: number): Promise<void> {
    this.terminating = true;
    clearTimeout(this.refreshTimer);
    for (const c of this.containers) {
      clearTimeout(c.backoff);
      c.stopProbes();
      c.ready = false;
    }
    await Promise.all(this.containers.map((c) => c.launching));
    await Promise.all(this.containers.map((c) => c.proc?.stop(graceMs)));
  }

  /** Removes the volumes' directories and the pod's TMPDIR (the logs stay for a look afterwards). */
  removeVolumes(): void {
    rmSync(join(this.deps.podDir, 'volumes'), { recursive: true, force: true });
  }

  // --- volumes

  private async prepareVolumes(): Promise<void> {
    for (const v of this.pod.spec?.volumes ?? []) {
      const dir = join(this.deps.podDir, 'volumes', v.name);
      if (v.emptyDir) {
        mkdirSync(dir, { recursive: true });
        // world-writable, as a kubelet makes an emptyDir: every container's user writes there
        chmodSync(dir, 0o777);
        this.volumeDirs.set(v.name, dir);
        this.writableVolumes.add(v.name);
      } else if (v.configMap) {
        mkdirSync(dir, { recursive: true });
        this.volumeDirs.set(v.name, dir);
        await this.writeConfigMap(dir, v.configMap);
      } else if (v.projected && this.deps.requestToken) {
        mkdirSync(dir, { recursive: true });
        this.volumeDirs.set(v.name, dir);
        await this.writeProjected(dir, v.projected);
      }
      // other volume types are not mounted (container mode refuses a container that mounts one)
    }
  }

  private configMapVolumes(): {
    dir: string;
    source: NonNullable<NonNullable<V1Pod['spec']>['volumes']>[number]['configMap'];
  }[] {
    return (this.pod.spec?.volumes ?? [])
      .filter((v) => v.configMap)
      .map((v) => ({ dir: join(this.deps.podDir, 'volumes', v.name), source: v.configMap }));
  }

  private async writeConfigMap(
    dir: string,
    source: { name?: string; items?: { key: string; path: string }[]; optional?: boolean },
  ): Promise<void> {
    const namespace = this.pod.metadata?.namespace ?? 'default';
    const cm = source.name ? await this.deps.readConfigMap(namespace, source.name) : undefined;
    if (!cm) return;
    const data = cm.data ?? {};
    const files = source.items?.length
      ? source.items.filter((i) => i.key in data).map((i) => [i.path, data[i.key]!] as const)
      : Object.entries(data);
    for (const [path, content] of files) {
      const file = join(dir, path);
      let current: string | undefined;
      try {
        current = readFileSync(file, 'utf8');
      } catch {
        current = undefined;
      }
      if (current === content) continue;
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(`${file}.tmp`, content);
      renameSync(`${file}.tmp`, file);
    }
  }

  /**
   * A projected volume as a kubelet writes the ServiceAccount token volume it injects
   * (kube-api-access-*): a token of the pod's ServiceAccount bound to the pod, the cluster CA from
   * the kube-root-ca.crt ConfigMap, the namespace from the downward API. Written once: the token
   * lives as long as the pod (bound to it), which the API server's extended expiry covers.
   */
  private async writeProjected(dir: string, projected: V1ProjectedVolumeSource): Promise<void> {
    const write = (path: string, content: string): void => {
      const file = join(dir, path);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(`${file}.tmp`, content, { mode: 0o644 });
      renameSync(`${file}.tmp`, file);
    };
    for (const source of projected.sources ?? []) {
      if (source.serviceAccountToken) {
        const t = source.serviceAccountToken;
        const token = await this.deps.requestToken!({
          serviceAccount: this.pod.spec?.serviceAccountName ?? 'default',
          expirationSeconds: t.expirationSeconds ?? 3600,
          ...(t.audience ? { audience: t.audience } : {}),
        });
        write(t.path, token);
      } else if (source.configMap) {
        await this.writeConfigMap(dir, source.configMap);
      } else if (source.downwardAPI) {
        for (const item of source.downwardAPI.items ?? []) {
          const value = item.fieldRef
            ? fieldValue(item.fieldRef.fieldPath, this.pod, {
                podIp: this.deps.address.podIp,
                hostIp: this.deps.hostIp,
              })
            : undefined;
          if (value !== undefined) write(item.path, value);
        }
      }
    }
  }

  private scheduleRefresh(): void {
    const volumes = this.configMapVolumes();
    if (volumes.length === 0 || this.terminating) return;
    this.refreshTimer = setTimeout(() => {
      void Promise.all(volumes.map((v) => this.writeConfigMap(v.dir, v.source ?? {})))
        .catch((err: unknown) => this.log.warn({ err: String(err) }, 'could not refresh a configMap volume'))
        .finally(() => this.scheduleRefresh());
    }, CONFIGMAP_REFRESH_MS);
  }

  // --- status

  private condition(type: string, ok: boolean): V1PodCondition {
    const status = ok ? 'True' : 'False';
    let seen = this.conditionTimes.get(type);
    if (seen?.status !== status) {
      seen = { status, time: new Date() };
      this.conditionTimes.set(type, seen);
    }
    return { type, status, lastTransitionTime: seen.time };
  }

  private containerState(c: ContainerRunner): V1ContainerState {
    if (c.waiting) return { waiting: c.waiting };
    if (c.terminated) return { terminated: termState(c.terminated) };
    return { running: { startedAt: c.proc!.startedAt } };
  }

  status(): V1PodStatus {
    const statuses: V1ContainerStatus[] = this.containers.map((c) => ({
      name: c.spec.name,
      image: c.spec.image ?? '',
      imageID: '',
      ...(c.proc
        ? { containerID: 'id' in c.proc ? `podman://${String(c.proc.id)}` : `local-process://${c.proc.pid}` }
        : {}),
      ready: c.ready,
      started: c.proc?.isRunning() ?? false,
      restartCount: c.restartCount,
      state: this.containerState(c),
      ...(c.lastTerminated ? { lastState: { terminated: termState(c.lastTerminated) } } : {}),
    }));
    const allReady = this.containers.every((c) => c.ready);
    const done = this.containers.every((c) => c.terminated !== undefined);
    const active = this.containers.some(
      (c) => c.proc?.isRunning() || c.waiting?.reason === 'CrashLoopBackOff',
    );
    const phase = done
      ? this.containers.every((c) => c.terminated!.exitCode === 0)
        ? 'Succeeded'
        : 'Failed'
      : active
        ? 'Running'
        : 'Pending';
    const kept = (this.pod.status?.conditions ?? []).filter((c) => c.type === 'PodScheduled');
    const { podIp } = this.deps.address;
    return {
      phase,
      ...(this.podMessage ? { message: this.podMessage, reason: 'UnsupportedByLocalAgent' } : {}),
      hostIP: this.deps.hostIp,
      hostIPs: [{ ip: this.deps.hostIp }],
      podIP: podIp,
      podIPs: [{ ip: podIp }],
      startTime: this.startTime,
      conditions: [
        ...kept,
        this.condition('PodReadyToStartContainers', true),
        this.condition('Initialized', true),
        this.condition('ContainersReady', allReady),
        this.condition('Ready', allReady),
      ],
      containerStatuses: statuses,
    };
  }
}

function termState(t: Terminated): NonNullable<V1ContainerState['terminated']> {
  return {
    exitCode: t.exitCode,
    ...(t.signal ? { signal: constants.signals[t.signal as NodeJS.Signals] ?? 0 } : {}),
    reason: t.reason,
    ...(t.message ? { message: t.message } : {}),
    startedAt: t.startedAt,
    finishedAt: t.finishedAt,
  };
}

/** Kubernetes' default terminationMessagePath. */
const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';

/**
 * A ended container's termination message as a kubelet reports it: why the agent killed it; else
 * what it wrote to its terminationMessagePath (at most 4096 bytes); else, under
 * FallbackToLogsOnError and a non-zero exit, the end of its log.
 */
function terminationMessage(c: ContainerRunner, podDir: string, exitCode: number): { message?: string } {
  if (c.killReason) return { message: c.killReason };
  let written = '';
  try {
    written = readFileSync(c.terminationFile(podDir), 'utf8').slice(0, 4096);
  } catch {
    // never prepared: no file
  }
  if (written.trim() !== '') return { message: written };
  if (exitCode !== 0 && c.spec.terminationMessagePolicy === 'FallbackToLogsOnError')
    return { message: logTail(c.logPath) };
  return {};
}

/**
 * What a kubelet reports as a failed container's termination message under
 * terminationMessagePolicy FallbackToLogsOnError: the end of its log (at most 2048 bytes, 80 lines).
 */
export function logTail(logPath: string): string {
  let text: string;
  try {
    text = readFileSync(logPath, 'utf8');
  } catch {
    return '';
  }
  return text.slice(-2048).split('\n').slice(-80).join('\n').trim();
}
