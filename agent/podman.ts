// Pods as containers through podman: the runtime of the local node agent's container mode
// (agent/agent.ts with runtime 'containers'; agent/pod.ts drives it). A pod sandbox is
// a podman pod: its infra container holds the network namespace every container of the pod
// shares (one pod IP, reachable from this machine, localhost between the containers); podman
// builds its pause image locally from catatonit, so nothing is pulled. Each container is
// `podman run -d --pod` with what the pod spec says, mapped the way a kubelet would:
//
//   image, command (replaces ENTRYPOINT; CMD dropped), args (replace CMD), workingDir, env
//   volumes: host directories bind-mounted at mountPath (readOnly honoured)
//   securityContext (pod level, container level wins): runAsUser/runAsGroup → --user,
//     fsGroup/supplementalGroups → --group-add, runAsNonRoot verified against the user the
//     container would run as (refused when it is root or not numeric, as the kubelet does),
//     readOnlyRootFilesystem → --read-only without podman's extra tmpfs mounts, capabilities
//     add/drop, allowPrivilegeEscalation false → no-new-privileges, privileged,
//     seccompProfile RuntimeDefault (podman's default profile) or Unconfined
//   resources.limits: memory → --memory (an OOM kill is reported as OOMKilled where podman knows
//     it; on these cgroup v1 machines it reports false, so the reason stays Error), cpu → --cpus;
//     other limits (nvidia.com/gpu: a test double here) only count for the scheduler
//
// The podman CLI runs with the project's containers.conf (scripts/podman.sh sets it up).
//
// API:
//   containerRunArgs(pod, container, ctx) → string[]      pure; throws ContainerConfigError
//   class PodSandbox: PodSandbox.create(name, opts) → sandbox; .ip; .run(args) → RunningContainer;
//     .logs(container) ; .remove()
//   RunningContainer: the LocalProcess shape of agent/process.ts (pid, startedAt, exited,
//     isRunning(), stop(graceMs)) plus id
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { V1Container, V1Pod, V1SecurityContext } from '@kubernetes/client-node';
import { parseQuantity } from '../operator/runtime/apply.js';
import type { ExitStatus, LocalProcess } from './process.js';

const run = promisify(execFile);

/** The project's containers.conf (runc, ulimits within this machine's hard limits). */
export const CONTAINERS_CONF = fileURLToPath(new URL('../scripts/podman/containers.conf', import.meta.url));
export const POD_LABEL = 'dev.lightrank.agent-pod';

/**
 * The working directory of every podman command: each container's conmon inherits it, must
 * outlive it (a deleted one fails containers with "write child: broken pipe") and writes files
 * there (an `oom` file when a container is OOM-killed), so it is podman's run directory of
 * scripts/podman.sh, never the caller's (a checkout, a test's temp dir).
 */
export const PODMAN_CWD = process.env.LIGHTRANK_PODMAN_RUN_DIR ?? '/run/lightrank-podman';
let cwdMade = false;
function podmanCwd(): string {
  if (!cwdMade) {
    mkdirSync(PODMAN_CWD, { recursive: true });
    cwdMade = true;
  }
  return PODMAN_CWD;
}

export interface VolumeMount {
  hostPath: string;
  mountPath: string;
  readOnly?: boolean;
}

export interface RunContext {
  /** the podman pod (sandbox) the container joins */
  podName: string;
  /** podman's name for the container */
  name: string;
  env: Record<string, string>;
  mounts: VolumeMount[];
  /** the image's USER (`podman image inspect`), for runAsNonRoot */
  imageUser: string;
  labels?: Record<string, string>;
  /** where podman writes the container's stdout and stderr (k8s-file format; default: podman's own) */
  logPath?: string;
}

/** A container the pod spec describes but that cannot be created (the kubelet's reason). */
export class ContainerConfigError extends Error {
  readonly reason = 'CreateContainerConfigError';
  override name = 'ContainerConfigError';
}

function refuse(container: V1Container, what: string): never {
  throw new ContainerConfigError(`container "${container.name}": ${what}`);
}

/** The security context in force: the container's fields over the pod's. */
function effective(pod: V1Pod, c: V1Container): V1SecurityContext {
  const p = pod.spec?.securityContext ?? {};
  const own = c.securityContext ?? {};
  return {
    ...(p.runAsUser !== undefined ? { runAsUser: p.runAsUser } : {}),
    ...(p.runAsGroup !== undefined ? { runAsGroup: p.runAsGroup } : {}),
    ...(p.runAsNonRoot !== undefined ? { runAsNonRoot: p.runAsNonRoot } : {}),
    ...(p.seccompProfile ? { seccompProfile: p.seccompProfile } : {}),
    ...Object.fromEntries(Object.entries(own).filter(([, v]) => v !== undefined)),
  };
}

export function containerRunArgs(pod: V1Pod, c: V1Container, ctx: RunContext): string[] {
  if (!c.image) refuse(c, 'no image');
  const sc = effective(pod, c);
  // --replace: a restarted container takes its predecessor's name; --pull=never: the images are
  // built on this machine and nothing can be pulled (a missing one fails at once, by name)
  const args = ['run', '--detach', '--replace', '--pull=never', '--pod', ctx.podName, '--name', ctx.name];
  if (ctx.logPath) args.push('--log-driver', 'k8s-file', '--log-opt', `path=${ctx.logPath}`);
  for (const [k, v] of Object.entries(ctx.labels ?? {})) args.push('--label', `${k}=${v}`);

  // user: runAsUser/runAsGroup over the image's USER
  const imageUid = ctx.imageUser.split(':')[0] ?? '';
  if (sc.runAsUser !== undefined || sc.runAsGroup !== undefined) {
    const uid = sc.runAsUser ?? imageUid;
    if (uid === '' && sc.runAsGroup !== undefined) args.push('--user', `0:${sc.runAsGroup}`);
    else args.push('--user', sc.runAsGroup !== undefined ? `${uid}:${sc.runAsGroup}` : String(uid));
  }
  if (sc.runAsNonRoot) {
    const uid = sc.runAsUser !== undefined ? String(sc.runAsUser) : imageUid;
    if (uid === '' || uid === '0' || uid === 'root') refuse(c, 'runAsNonRoot and the image will run as root');
    if (!/^\d+$/.test(uid)) refuse(c, `runAsNonRoot and the image has a non-numeric user (${uid})`);
  }
  const groups = [
    ...(pod.spec?.securityContext?.fsGroup !== undefined ? [pod.spec.securityContext.fsGroup] : []),
    ...(pod.spec?.securityContext?.supplementalGroups ?? []),
  ];
  for (const g of groups) args.push('--group-add', String(g));

  if (sc.privileged) args.push('--privileged');
  // a pod gets no extra tmpfs mounts on a read-only root: only the volumes it declares
  if (sc.readOnlyRootFilesystem) args.push('--read-only', '--read-only-tmpfs=false');
  for (const cap of sc.capabilities?.drop ?? []) args.push('--cap-drop', cap);
  for (const cap of sc.capabilities?.add ?? []) args.push('--cap-add', cap);
  if (sc.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  const seccomp = sc.seccompProfile?.type;
  if (seccomp === 'Unconfined') args.push('--security-opt', 'seccomp=unconfined');
  else if (seccomp === 'Localhost')
    refuse(c, 'seccompProfile Localhost is not supported by the local node agent');

  const limits = (c.resources?.limits ?? {}) as Record<string, unknown>;
  for (const [name, flag] of [
    ['memory', '--memory'],
    ['cpu', '--cpus'],
  ] as const) {
    if (limits[name] === undefined) continue;
    const value = parseQuantity(String(limits[name]));
    if (value === undefined || value <= 0)
      refuse(c, `resources.limits.${name} "${String(limits[name])}" is not a positive quantity`);
    args.push(flag, name === 'memory' ? String(Math.ceil(value!)) : String(value));
  }

  for (const m of ctx.mounts) args.push('--volume', `${m.hostPath}:${m.mountPath}${m.readOnly ? ':ro' : ''}`);
  for (const [k, v] of Object.entries(ctx.env)) args.push('--env', `${k}=${v}`);
  if (c.workingDir) args.push('--workdir', c.workingDir);
  // Kubernetes: command replaces the ENTRYPOINT (and drops the CMD), args replace the CMD
  if (c.command?.length) args.push('--entrypoint', JSON.stringify(c.command));
  args.push(c.image!);
  if (c.args?.length) args.push(...c.args);
  return args;
}

export interface RunningContainer extends LocalProcess {
  readonly id: string;
}

export interface PodmanOptions {
  /** environment of the podman CLI (default: this process's, with CONTAINERS_CONF) */
  env?: NodeJS.ProcessEnv;
}

/**
 * Sandboxes this process created and has not removed, with the podman environment of each: when
 * the process exits however it exits (a second Ctrl-C, an uncaught error), they are removed
 * synchronously, so no container outlives the agent (as process mode kills its process groups).
 */
const live = new Map<string, NodeJS.ProcessEnv>();
let exitHookInstalled = false;

function track(name: string, env: NodeJS.ProcessEnv): void {
  live.set(name, env);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [name, env] of live) {
      try {
        execFileSync('podman', ['pod', 'rm', '--force', '--time', '0', name], {
          env,
          cwd: podmanCwd(),
          stdio: 'ignore',
          timeout: 30_000,
        });
      } catch {
        // gone already, or podman failed: nothing more can be done while exiting
      }
    }
  });
}

export class PodSandbox {
  private constructor(
    readonly name: string,
    /** the pod IP: the infra container's address on podman's network */
    readonly ip: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(
    name: string,
    opts: PodmanOptions & {
      labels?: Record<string, string>;
      /** the pod's hostname (a kubelet: the pod's name) */
      hostname?: string;
      /** extra /etc/hosts entries of every container: name → address */
      hosts?: Record<string, string>;
    } = {},
  ): Promise<PodSandbox> {
    const env = podmanEnv(opts);
    const labels = Object.entries(opts.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    const hosts = Object.entries(opts.hosts ?? {}).flatMap(([h, ip]) => ['--add-host', `${h}:${ip}`]);
    const hostname = opts.hostname ? ['--hostname', opts.hostname] : [];
    await podman(env, ['pod', 'create', '--name', name, ...hostname, ...hosts, ...labels]);
    track(name, env);
    // the infra container holds the network namespace; it is created with the pod and started now
    await podman(env, ['pod', 'start', name]);
    const infra = (await podman(env, ['pod', 'inspect', name, '--format', '{{.InfraContainerID}}'])).trim();
    const ip = (await podman(env, ['inspect', infra, '--format', '{{.NetworkSettings.IPAddress}}'])).trim();
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) {
      await podman(env, ['pod', 'rm', '--force', name]).catch(() => undefined);
      live.delete(name);
      throw new Error(`podman pod ${name}: no IP address (got "${ip}")`);
    }
    return new PodSandbox(name, ip, env);
  }

  /** The user an image runs as (its USER; '' for root by default). */
  async imageUser(image: string): Promise<string> {
    return (await podman(this.env, ['image', 'inspect', image, '--format', '{{.Config.User}}'])).trim();
  }

  /** Starts a container from `podman run` arguments (containerRunArgs). */
  async run(args: string[]): Promise<RunningContainer> {
    const id = (await podman(this.env, args)).trim().split('\n').pop()!;
    const [pidText, started] = (
      await podman(this.env, ['inspect', id, '--format', '{{.State.Pid}} {{.State.StartedAt}}'])
    )
      .trim()
      .split(' ');
    const startedAt = new Date(started ? Date.parse(started.replace(/\.\d+/, '')) || Date.now() : Date.now());
    let running = true;
    const env = this.env;
    const exited = new Promise<ExitStatus>((resolve) => {
      const waiter = spawn('podman', ['wait', id], {
        env,
        cwd: podmanCwd(),
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let out = '';
      waiter.stdout.on('data', (d: Buffer) => (out += d.toString()));
      waiter.on('close', () => {
        const code = Number.parseInt(out.trim(), 10);
        const finishedAt = new Date();
        // the kernel's OOM killer ended it: the kubelet's reason, not a plain Error
        void podman(env, ['inspect', id, '--format', '{{.State.OOMKilled}}'])
          .then((oom) => (oom.trim() === 'true' ? 'OOMKilled' : undefined))
          .catch(() => undefined)
          .then((reason) => {
            running = false;
            resolve({
              exitCode: Number.isFinite(code) ? code : -1,
              finishedAt,
              ...(reason ? { reason } : {}),
            });
          });
      });
    });
    return {
      id,
      pid: Number(pidText),
      startedAt,
      exited,
      isRunning: () => running,
      stop: async (graceMs: number) => {
        if (running)
          await podman(env, ['stop', '--time', String(Math.ceil(graceMs / 1000)), id]).catch(() => undefined);
        return exited;
      },
    };
  }

  /** The container's stdout and stderr so far. */
  async logs(container: string): Promise<string> {
    const { stdout, stderr } = await run('podman', ['logs', container], {
      env: this.env,
      cwd: podmanCwd(),
      maxBuffer: 64 << 20,
    });
    return stdout + stderr;
  }

  /** Removes the pod and every container in it. */
  async remove(): Promise<void> {
    await podman(this.env, ['pod', 'rm', '--force', '--time', '0', this.name]);
    live.delete(this.name);
  }
}

function podmanEnv(opts: PodmanOptions): NodeJS.ProcessEnv {
  return opts.env ?? { ...process.env, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? CONTAINERS_CONF };
}

/** The gateway of podman's default network: this machine's address as the containers see it. */
export async function networkGateway(opts: PodmanOptions = {}): Promise<string> {
  const out = await podman(podmanEnv(opts), [
    'network',
    'inspect',
    'podman',
    '--format',
    '{{range .Subnets}}{{.Gateway}} {{end}}',
  ]);
  const gateway = out
    .trim()
    .split(/\s+/)
    .find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
  if (!gateway) throw new Error(`podman network "podman" has no IPv4 gateway (got "${out.trim()}")`);
  return gateway;
}

/** Podman pods carrying every one of `labels` (name and labels of each). */
export async function listPods(
  labels: Record<string, string>,
  opts: PodmanOptions = {},
): Promise<{ name: string; labels: Record<string, string> }[]> {
  const filters = Object.entries(labels).flatMap(([k, v]) => ['--filter', `label=${k}=${v}`]);
  const out = await podman(podmanEnv(opts), ['pod', 'ps', ...filters, '--format', 'json']);
  const pods = JSON.parse(out || '[]') as { Name: string; Labels?: Record<string, string> }[];
  return pods.map((p) => ({ name: p.Name, labels: p.Labels ?? {} }));
}

/** Removes podman pods by name (and their containers) at once. */
export async function removePods(names: string[], opts: PodmanOptions = {}): Promise<void> {
  if (names.length > 0) await podman(podmanEnv(opts), ['pod', 'rm', '--force', '--time', '0', ...names]);
}

async function podman(env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  try {
    return (await run('podman', args, { env, cwd: podmanCwd(), maxBuffer: 16 << 20 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`podman ${args.slice(0, 3).join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }
}
