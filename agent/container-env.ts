// The environment of a container run as a local process, built the way a kubelet would: `envFrom`
// Secrets first (their keys, with the source's prefix; keys that are no variable name skipped),
// then the container's `env` in order, winning over them, with `$(VAR)` expansion, the downward
// API (`valueFrom.fieldRef`) and Secret keys (`valueFrom.secretKeyRef`). The Secrets are read
// from the API by the caller (secretNames says which) and passed in; a missing one that is not
// `optional` refuses the container with the kubelet's CreateContainerConfigError and message.
// then the two things a network and mount namespace would have given it: paths under a volume's
// mountPath point into the pod's directory on this machine, and LIGHTRANK_HOST makes it bind to
// the pod's own loopback address; TMPDIR is the pod's own, as a container's /tmp would be.
// Nothing else of the agent's environment leaks in.
//
// API:
//   containerEnv(container, pod, ctx) → Record<string, string>    throws UnsupportedContainerError
//   specEnv(container, pod, { podIp, hostIp, secrets? }) → Record<string, string>   the kubelet's
//     part alone (envFrom secrets, env in order, $(VAR), fieldRef, secretKeyRef): what a container
//     run from its image gets
//   secretNames(container) → string[]      the Secrets its envFrom and secretKeyRefs name
//   type Secrets = Map<name, data (decoded) | undefined (not found)>
//   mapPath(path, mounts) → string | undefined
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { ENTRY_PATH_ENV, UnsupportedContainerError, type Entry } from './commands.js';
import { ContainerConfigError } from './podman.js';

/** Secrets by name, their data decoded; undefined: the API server has no such Secret. */
export type Secrets = Map<string, Record<string, string> | undefined>;

/** The Secrets a container's envFrom and secretKeyRefs name. */
export function secretNames(container: V1Container): string[] {
  const names = new Set<string>();
  for (const f of container.envFrom ?? []) if (f.secretRef?.name) names.add(f.secretRef.name);
  for (const e of container.env ?? []) {
    const name = e.valueFrom?.secretKeyRef?.name;
    if (name) names.add(name);
  }
  return [...names];
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export interface Mount {
  /** where the container expects the volume */
  mountPath: string;
  /** the directory on this machine */
  hostPath: string;
}

export interface EnvContext {
  entry: Entry;
  podIp: string;
  hostIp: string;
  /** the pod's loopback address: LIGHTRANK_HOST */
  localAddress: string;
  mounts: Mount[];
  /** the pod's private temporary directory: TMPDIR */
  tmpDir: string;
  /** defaults the container's own env overrides (entryLocalDefaults) */
  defaults?: Record<string, string>;
  /** the Secrets the container names (secretNames), read from the API */
  secrets?: Secrets;
}

/** Variables passed through from the agent's own environment. */
const PASS_THROUGH = ['PATH', 'HOME', 'LANG', 'TZ'];

/** The host path of `path` when it lies at or under a mount (longest mountPath wins). */
export function mapPath(path: string, mounts: Mount[]): string | undefined {
  const trim = (p: string): string => (p.length > 1 ? p.replace(/\/+$/, '') : p);
  const candidates = mounts
    .filter((m) => {
      const mp = trim(m.mountPath);
      return path === mp || path.startsWith(mp === '/' ? '/' : `${mp}/`);
    })
    .sort((a, b) => b.mountPath.length - a.mountPath.length);
  const best = candidates[0];
  return best ? best.hostPath + path.slice(trim(best.mountPath).length) : undefined;
}

/** Kubernetes `$(VAR)` expansion: defined variables are replaced, `$$` escapes, unknown ones stay. */
function expand(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole: string, name?: string) =>
    whole === '$$' ? '$' : name !== undefined && name in vars ? vars[name]! : whole,
  );
}

export function fieldValue(
  fieldPath: string,
  pod: V1Pod,
  ctx: { podIp: string; hostIp: string },
): string | undefined {
  const meta = pod.metadata ?? {};
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (keyed) return (keyed[1] === 'labels' ? meta.labels : meta.annotations)?.[keyed[2]!] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.podIPs':
      return ctx.podIp;
    case 'status.hostIP':
    case 'status.hostIPs':
      return ctx.hostIp;
    default:
      return undefined;
  }
}

/** The container's `envFrom` and `env` as a kubelet resolves them (see the header). */
export function specEnv(
  container: V1Container,
  pod: V1Pod,
  ctx: { podIp: string; hostIp: string; secrets?: Secrets },
): Record<string, string> {
  const refuse = (what: string): never => {
    throw new UnsupportedContainerError(
      'UnsupportedCommand',
      `container "${container.name}": ${what} is not supported by the local node agent`,
    );
  };
  const secret = (name: string, optional: boolean | undefined) => {
    const data = ctx.secrets?.get(name);
    if (data === undefined && !optional)
      throw new ContainerConfigError(`container "${container.name}": secret "${name}" not found`);
    return data;
  };
  const vars: Record<string, string> = {};
  for (const f of container.envFrom ?? []) {
    const from = f.secretRef;
    if (!from?.name) return refuse(`envFrom ${JSON.stringify(f)} (only secretRef)`);
    const data = secret(from.name, from.optional) ?? {};
    for (const [key, value] of Object.entries(data)) {
      const name = `${f.prefix ?? ''}${key}`;
      if (ENV_NAME.test(name)) vars[name] = value;
    }
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom) {
      const ref = e.valueFrom.secretKeyRef;
      if (ref) {
        const value = secret(ref.name ?? '', ref.optional)?.[ref.key];
        if (value === undefined && !ref.optional)
          throw new ContainerConfigError(
            `container "${container.name}": couldn't find key ${ref.key} in Secret ${pod.metadata?.namespace}/${ref.name}`,
          );
        if (value !== undefined) vars[e.name] = value;
        continue;
      }
      const fieldPath = e.valueFrom.fieldRef?.fieldPath;
      const value = fieldPath !== undefined ? fieldValue(fieldPath, pod, ctx) : undefined;
      if (value === undefined)
        refuse(
          `env ${e.name}: valueFrom ${JSON.stringify(e.valueFrom)} (only fieldRef to pod fields and secretKeyRef)`,
        );
      vars[e.name] = value!;
    } else {
      vars[e.name] = expand(e.value ?? '', vars);
    }
  }
  return vars;
}

export function containerEnv(container: V1Container, pod: V1Pod, ctx: EnvContext): Record<string, string> {
  const vars = specEnv(container, pod, ctx);
  for (const [name, value] of Object.entries(vars)) {
    if (value.startsWith('/')) vars[name] = mapPath(value, ctx.mounts) ?? value;
  }
  for (const [name, fallback] of Object.entries(ENTRY_PATH_ENV[ctx.entry])) {
    const mapped = vars[name] === undefined ? mapPath(fallback, ctx.mounts) : undefined;
    if (mapped !== undefined) vars[name] = mapped;
  }
  const base: Record<string, string> = {};
  for (const name of PASS_THROUGH) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  return { ...base, TMPDIR: ctx.tmpDir, ...ctx.defaults, ...vars, LIGHTRANK_HOST: ctx.localAddress };
}
