// The operator's configuration from command-line flags and environment variables (flags win).
// The Helm chart sets the LIGHTRANK_* variables; `--help` lists everything.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

export interface OperatorConfig {
  /** Namespace to watch; '' for all namespaces. */
  watchNamespace: string;
  /** Kubeconfig file; undefined: $KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
  kubeconfig: string | undefined;
  serverImage: string;
  sidecarImage: string;
  /** Image of the routers (routing mode `router`); undefined: the model's serving image, else serverImage. */
  routerImage: string | undefined;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never' | undefined;
  /** Port of /healthz, /readyz and /metrics (0: any free port). */
  port: number;
  /** Address the HTTP endpoints listen on. */
  bindAddress: string;
  logLevel: string;
  workers: number;
  /** Every RankingModel is reconciled again this often even without events. */
  resyncPeriodMs: number;
  leaderElection: {
    enabled: boolean;
    leaseName: string;
    leaseNamespace: string;
    identity: string;
    leaseDurationMs: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
}

export const DEFAULT_SERVER_IMAGE = 'ghcr.io/lightrank/lightrank-server:0.1.0';

const OPTIONS = {
  'watch-namespace': {
    type: 'string',
    env: 'LIGHTRANK_WATCH_NAMESPACE',
    help: "namespace to watch ('' = all)",
  },
  kubeconfig: {
    type: 'string',
    env: 'KUBECONFIG',
    help: 'kubeconfig file (default: in-cluster or ~/.kube/config)',
  },
  'server-image': {
    type: 'string',
    env: 'LIGHTRANK_SERVER_IMAGE',
    help: `scoring server image (default ${DEFAULT_SERVER_IMAGE})`,
  },
  'sidecar-image': {
    type: 'string',
    env: 'LIGHTRANK_SIDECAR_IMAGE',
    help: 'sync sidecar image (default: the server image)',
  },
  'router-image': {
    type: 'string',
    env: 'LIGHTRANK_ROUTER_IMAGE',
    help: "router image (default: the model's serving image, else the server image)",
  },
  'image-pull-policy': {
    type: 'string',
    env: 'LIGHTRANK_IMAGE_PULL_POLICY',
    help: 'Always | IfNotPresent | Never',
  },
  port: { type: 'string', env: 'LIGHTRANK_PORT', help: 'port of /healthz, /readyz, /metrics (default 8080)' },
  'bind-address': {
    type: 'string',
    env: 'LIGHTRANK_BIND_ADDRESS',
    help: 'listen address of the HTTP endpoints (default 0.0.0.0)',
  },
  'log-level': { type: 'string', env: 'LIGHTRANK_LOG_LEVEL', help: 'pino level (default info)' },
  workers: { type: 'string', env: 'LIGHTRANK_WORKERS', help: 'concurrent reconciles (default 16)' },
  'resync-seconds': {
    type: 'string',
    env: 'LIGHTRANK_RESYNC_SECONDS',
    help: 'full resync period (default 600)',
  },
  'leader-election': {
    type: 'string',
    env: 'LIGHTRANK_LEADER_ELECTION',
    help: 'true | false (default true)',
  },
  'lease-name': {
    type: 'string',
    env: 'LIGHTRANK_LEASE_NAME',
    help: 'Lease name (default lightrank-operator)',
  },
  'lease-namespace': {
    type: 'string',
    env: 'LIGHTRANK_LEASE_NAMESPACE',
    help: 'Lease namespace (default $POD_NAMESPACE or default)',
  },
  identity: { type: 'string', env: 'POD_NAME', help: 'leader identity (default hostname-pid-random)' },
  'lease-duration-seconds': { type: 'string', env: 'LIGHTRANK_LEASE_DURATION_SECONDS', help: 'default 15' },
  'renew-deadline-seconds': { type: 'string', env: 'LIGHTRANK_RENEW_DEADLINE_SECONDS', help: 'default 10' },
  'retry-period-seconds': { type: 'string', env: 'LIGHTRANK_RETRY_PERIOD_SECONDS', help: 'default 2' },
  help: { type: 'boolean', env: '', help: 'print this help' },
} as const;

export function usage(): string {
  return [
    'lightrank operator: reconciles RankingModels into scoring Deployments and Services.',
    '',
    ...Object.entries(OPTIONS).map(([k, o]) => `  --${k.padEnd(24)} ${o.env ? `[$${o.env}] ` : ''}${o.help}`),
  ].join('\n');
}

function number(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: expected a number >= ${min}, got "${raw}"`);
  return n;
}

function bool(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`--${name}: expected true or false, got "${raw}"`);
}

/** Parse argv + env; throws an Error naming the bad flag. Returns undefined for --help. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): OperatorConfig | undefined {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.entries(OPTIONS).map(([k, o]) => [k, { type: o.type }])),
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  const get = (k: keyof typeof OPTIONS): string | undefined => {
    const v = values[k];
    if (typeof v === 'string') return v;
    const envName = OPTIONS[k].env;
    return envName ? env[envName] : undefined;
  };
  const pull = get('image-pull-policy') || undefined;
  if (pull !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(pull)) {
    throw new Error(`--image-pull-policy: expected Always, IfNotPresent or Never, got "${pull}"`);
  }
  const serverImage = get('server-image') || DEFAULT_SERVER_IMAGE;
  return {
    watchNamespace: get('watch-namespace') ?? '',
    kubeconfig: get('kubeconfig') || undefined,
    serverImage,
    sidecarImage: get('sidecar-image') || serverImage,
    routerImage: get('router-image') || undefined,
    imagePullPolicy: pull as OperatorConfig['imagePullPolicy'],
    port: number('port', get('port'), 8080, 0),
    bindAddress: get('bind-address') || '0.0.0.0',
    logLevel: get('log-level') || 'info',
    workers: number('workers', get('workers'), 16, 1),
    resyncPeriodMs: number('resync-seconds', get('resync-seconds'), 600, 1) * 1000,
    leaderElection: {
      enabled: bool('leader-election', get('leader-election'), true),
      leaseName: get('lease-name') || 'lightrank-operator',
      leaseNamespace: get('lease-namespace') || env.POD_NAMESPACE || 'default',
      identity: get('identity') || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
      leaseDurationMs: number('lease-duration-seconds', get('lease-duration-seconds'), 15, 0.1) * 1000,
      renewDeadlineMs: number('renew-deadline-seconds', get('renew-deadline-seconds'), 10, 0.1) * 1000,
      retryPeriodMs: number('retry-period-seconds', get('retry-period-seconds'), 2, 0.1) * 1000,
    },
  };
}
