// The router's configuration through the shared reader (lib/config.ts): flags win over the
// LIGHTRANK_* variables (the ones the operator sets are declared in api/pod-env.ts).
//
// API:
//   ROUTER_OPTIONS, RouterConfig, ROUTER_HELP
//   parseRouterConfig(argv, env) → RouterConfig | undefined (undefined: --help)   throws ConfigError
import { z } from 'zod';
import { PodEnv } from '../api/pod-env.js';
import { type ConfigOf, configHelp, option, readConfig, schemas } from '../lib/config.js';
import { parseAddressMap } from './resolve-kubernetes.js';

export const ROUTER_OPTIONS = {
  table: option({
    env: PodEnv.RouterTable,
    help: 'routing table file (the ConfigMap the operator writes), or a directory whose *.json tables are merged',
    default: '/etc/lightrank/router/table.json',
    schema: z.string().min(1),
  }),
  host: option({
    env: PodEnv.Host,
    help: 'listen address (default: every interface)',
    schema: schemas.optionalText(),
  }),
  port: option({
    env: PodEnv.Port,
    help: 'listen port (0 = any free port)',
    default: '8080',
    schema: schemas.port(),
  }),
  reloadIntervalMs: option({
    env: 'LIGHTRANK_ROUTER_RELOAD_INTERVAL_MS',
    help: 'how often the table file is read (SIGHUP reads it at once)',
    default: '2000',
    schema: schemas.int(10),
  }),
  upstreamTimeoutMs: option({
    env: 'LIGHTRANK_ROUTER_UPSTREAM_TIMEOUT_MS',
    help: 'longest wait for a scoring pod',
    default: '30000',
    schema: schemas.int(1),
  }),
  resolver: option({
    env: PodEnv.RouterResolver,
    help: 'dns: dial Service names; kubernetes: watch EndpointSlices and dial pods',
    default: 'dns',
    schema: z.enum(['dns', 'kubernetes']),
  }),
  kubeconfig: option({
    env: 'LIGHTRANK_ROUTER_KUBECONFIG',
    help: "kubeconfig of the kubernetes resolver (default: the pod's ServiceAccount)",
    schema: schemas.optionalText(),
  }),
  endpointAddressMap: option({
    env: 'LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP',
    help: 'FROM_CIDR=TO_CIDR: rewrite endpoint addresses (local node agents only)',
    schema: schemas.optionalText().transform((v, ctx) => {
      if (v === undefined) return undefined;
      try {
        return parseAddressMap(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  }),
};

export type RouterConfig = ConfigOf<typeof ROUTER_OPTIONS>;

export const ROUTER_HELP = configHelp(
  ROUTER_OPTIONS,
  'lightrank router: splits each segment between its stable and canary tracks by the table weights.',
);

export function parseRouterConfig(argv: string[], env: NodeJS.ProcessEnv): RouterConfig | undefined {
  const { config, help } = readConfig(ROUTER_OPTIONS, argv, env);
  return help ? undefined : config;
}
