// Which containers the local node agent can run, and how: a container of a lightrank image whose
// command is one of lightrank's entry points (`node dist/<part>/main.js`, as the operator and the
// image's ENTRYPOINT/CMD say) becomes `node --import tsx <repo>/<part>/main.ts` on this machine.
// Anything else is refused with a reason and a message meant for `kubectl describe pod`.
//
// API:
//   planContainer(container, opts) → ContainerPlan        throws UnsupportedContainerError
//   defaultImageAllowed(image) → boolean                  the repository's last segment starts with "lightrank"
import { join } from 'node:path';
import type { V1Container } from '@kubernetes/client-node';

export type Entry = 'server' | 'sidecar' | 'router' | 'embed';

/**
 * Per entry point: the environment variables naming paths inside the container, with the
 * default the program uses when the variable is unset. The agent maps them onto the pod's volumes.
 */
export const ENTRY_PATH_ENV: Record<Entry, Record<string, string>> = {
  server: { LIGHTRANK_DATA_DIR: '/var/lib/lightrank' },
  sidecar: { LIGHTRANK_DATA_DIR: '/var/lib/lightrank' },
  router: { LIGHTRANK_ROUTER_TABLE: '/etc/lightrank/router/table.json' },
  // a build pod's paths are its arguments (storage URIs, a file:// snapshot prefix)
  embed: {},
};

/**
 * Entry points that read their bind address only from a flag, not from LIGHTRANK_HOST: the agent
 * appends the flag with the pod's loopback address unless the container's args carry it already.
 */
export const ENTRY_HOST_FLAG: Partial<Record<Entry, string>> = { router: '--host' };

/**
 * What a pod network, cluster DNS and a ServiceAccount would have given an entry point here, as
 * environment defaults (the container's own env wins): the router resolves Services through
 * their EndpointSlices with `kubeconfigPath` (the stand-in for the pod's ServiceAccount) and
 * dials pod IPs at their loopback side.
 */
export function entryLocalDefaults(
  entry: Entry,
  opts: { podNetwork: string; kubeconfigPath?: string },
): Record<string, string> {
  if (entry !== 'router') return {};
  const map = {
    LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP: `${opts.podNetwork}.0.0/16=127.${opts.podNetwork.split('.')[1]}.0.0/16`,
  };
  return opts.kubeconfigPath
    ? { LIGHTRANK_ROUTER_RESOLVER: 'kubernetes', LIGHTRANK_ROUTER_KUBECONFIG: opts.kubeconfigPath, ...map }
    : map;
}

export interface ContainerPlan {
  entry: Entry;
  /** the TypeScript entry run with tsx */
  script: string;
  /** arguments after the script, from the container's command/args */
  args: string[];
}

export class UnsupportedContainerError extends Error {
  constructor(
    readonly reason: 'UnsupportedImage' | 'UnsupportedCommand',
    message: string,
  ) {
    super(message);
    this.name = 'UnsupportedContainerError';
  }
}

/** The lightrank image's ENTRYPOINT and CMD (Dockerfile.server). */
const IMAGE_ENTRYPOINT = ['node'];
const IMAGE_CMD = ['dist/server/main.js'];
const SCRIPT = /^(?:\.\/|\/app\/)?dist\/(server|sidecar|router|embed)\/main\.js$/;

export function defaultImageAllowed(image: string): boolean {
  const withoutDigest = image.split('@')[0]!;
  const lastSegment = withoutDigest.split('/').pop()!;
  return lastSegment.split(':')[0]!.startsWith('lightrank');
}

export function planContainer(
  container: V1Container,
  opts: { repo: string; imageAllowed?: (image: string) => boolean },
): ContainerPlan {
  const image = container.image ?? '';
  const allowed = opts.imageAllowed ?? defaultImageAllowed;
  if (!allowed(image)) {
    throw new UnsupportedContainerError(
      'UnsupportedImage',
      `container "${container.name}": image "${image}" is not a lightrank image; the local node agent runs only lightrank's own entry points as processes`,
    );
  }
  // Kubernetes semantics: command replaces ENTRYPOINT (and drops CMD), args replace CMD.
  const command = container.command?.length ? container.command : IMAGE_ENTRYPOINT;
  const args = container.args?.length ? container.args : container.command?.length ? [] : IMAGE_CMD;
  const argv = [...command, ...args];
  const [program, script, ...rest] = argv;
  const match = script !== undefined ? SCRIPT.exec(script) : null;
  if (!(program === 'node' || program?.endsWith('/node')) || !match) {
    throw new UnsupportedContainerError(
      'UnsupportedCommand',
      `container "${container.name}": command ${JSON.stringify(argv)} is not a lightrank entry point; the local node agent runs only "node dist/{server,sidecar,router,embed}/main.js [args]"`,
    );
  }
  const entry = match[1] as Entry;
  return { entry, script: join(opts.repo, entry, 'main.ts'), args: rest };
}
