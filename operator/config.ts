// The operator's configuration through the shared reader (lib/config.ts): command-line flags win
// over environment variables (the Helm chart sets the LIGHTRANK_* ones); `--help` lists everything.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { configHelp, option, readConfig, schemas } from '../lib/config.js';

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

const { optionalText } = schemas;
const seconds = (env: string, help: string, fallback: number) =>
  option({ env, help, default: String(fallback), schema: schemas.number(0.1) });

const OPTIONS = {
  watchNamespace: option({
    env: 'LIGHTRANK_WATCH_NAMESPACE',
    help: "namespace to watch ('' = all)",
    default: '',
    schema: z.string(),
  }),
  kubeconfig: option({
    env: 'KUBECONFIG',
    help: 'kubeconfig file (default: in-cluster or ~/.kube/config)',
    schema: optionalText(),
  }),
  serverImage: option({
    env: 'LIGHTRANK_SERVER_IMAGE',
    help: 'scoring server image',
    default: DEFAULT_SERVER_IMAGE,
    schema: z.string().min(1),
  }),
  sidecarImage: option({
    env: 'LIGHTRANK_SIDECAR_IMAGE',
    help: 'sync sidecar image (default: the server image)',
    schema: optionalText(),
  }),
  routerImage: option({
    env: 'LIGHTRANK_ROUTER_IMAGE',
    help: "router image (default: the model's serving image, else the server image)",
    schema: optionalText(),
  }),
  imagePullPolicy: option({
    env: 'LIGHTRANK_IMAGE_PULL_POLICY',
    help: "Always | IfNotPresent | Never (default: the cluster's)",
    schema: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  }),
  port: option({
    env: 'LIGHTRANK_PORT',
    help: 'port of /healthz, /readyz, /metrics (0 = any free port)',
    default: '8080',
    schema: schemas.port(),
  }),
  bindAddress: option({
    env: 'LIGHTRANK_BIND_ADDRESS',
    help: 'listen address of the HTTP endpoints',
    default: '0.0.0.0',
    schema: z.string().min(1),
  }),
  logLevel: option({
    env: 'LIGHTRANK_LOG_LEVEL',
    help: 'pino level',
    default: 'info',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  }),
  workers: option({
    env: 'LIGHTRANK_WORKERS',
    help: 'concurrent reconciles',
    default: '16',
    schema: schemas.int(1),
  }),
  resyncSeconds: seconds('LIGHTRANK_RESYNC_SECONDS', 'full resync period', 600),
  leaderElection: option({
    env: 'LIGHTRANK_LEADER_ELECTION',
    help: 'true | false',
    default: 'true',
    schema: schemas.bool(),
  }),
  leaseName: option({
    env: 'LIGHTRANK_LEASE_NAME',
    help: 'Lease name',
    default: 'lightrank-operator',
    schema: z.string().min(1),
  }),
  leaseNamespace: option({
    env: 'LIGHTRANK_LEASE_NAMESPACE',
    help: 'Lease namespace (default $POD_NAMESPACE or default)',
    schema: optionalText(),
  }),
  identity: option({
    env: 'POD_NAME',
    help: 'leader identity (default hostname-pid-random)',
    schema: optionalText(),
  }),
  leaseDurationSeconds: seconds('LIGHTRANK_LEASE_DURATION_SECONDS', 'Lease duration', 15),
  renewDeadlineSeconds: seconds('LIGHTRANK_RENEW_DEADLINE_SECONDS', 'renew deadline', 10),
  retryPeriodSeconds: seconds('LIGHTRANK_RETRY_PERIOD_SECONDS', 'retry period', 2),
};

export function usage(): string {
  return configHelp(
    OPTIONS,
    'lightrank operator: reconciles RankingModels into scoring Deployments and Services.',
  );
}

/** Parse argv + env; throws a ConfigError naming every bad flag. Returns undefined for --help. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): OperatorConfig | undefined {
  const { config: c, help } = readConfig(OPTIONS, argv, env);
  if (help) return undefined;
  return {
    watchNamespace: c.watchNamespace,
    kubeconfig: c.kubeconfig,
    serverImage: c.serverImage,
    sidecarImage: c.sidecarImage ?? c.serverImage,
    routerImage: c.routerImage,
    imagePullPolicy: c.imagePullPolicy,
    port: c.port,
    bindAddress: c.bindAddress,
    logLevel: c.logLevel,
    workers: c.workers,
    resyncPeriodMs: c.resyncSeconds * 1000,
    leaderElection: {
      enabled: c.leaderElection,
      leaseName: c.leaseName,
      leaseNamespace: c.leaseNamespace ?? (env.POD_NAMESPACE || 'default'),
      identity: c.identity ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
      leaseDurationMs: c.leaseDurationSeconds * 1000,
      renewDeadlineMs: c.renewDeadlineSeconds * 1000,
      retryPeriodMs: c.retryPeriodSeconds * 1000,
    },
  };
}
