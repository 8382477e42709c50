// Helpers for tests that run the operator against a real API server: in-process (the Operator
// class, leader election off, fast timings) or as a real process (`node --import tsx
// operator/main.ts`), plus RankingModel manifests and reads through the operator's own client.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { API_GROUP_VERSION, KIND, type RankingModelSpecInput } from '../api/rankingmodel.js';
import { createLogger } from '../lib/logger.js';
import { createRegistry } from '../lib/metrics.js';
import { loadConfig, type OperatorConfig } from './config.js';
import { FIELD_MANAGER, KubeClient } from './runtime/kube/client.js';
import type { KubeObject } from './runtime/kube/types.js';
import { KubeConfig } from '@kubernetes/client-node';
import { Operator, type Timings } from './manager.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Test timings: retries and reconnects in tens of milliseconds, capped at a second or two. */
export const FAST_TIMINGS: Timings = {
  retry: { baseMs: 50, maxMs: 2000 },
  reconnect: { baseMs: 100, maxMs: 1000 },
  discoverMs: 250,
};

export function rankingModel(name: string, namespace: string, spec: RankingModelSpecInput): KubeObject {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND,
    metadata: { name, namespace },
    spec: spec as Record<string, unknown>,
  };
}

/** client-node's KubeConfig from a file, or as it finds one (tests and benchmarks; the operator: kubeconfig.ts). */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

/** The user agent an operator with this identity sends (and the audit log records). */
export function userAgentOf(identity: string): string {
  return `${FIELD_MANAGER}/${identity}`;
}

export interface InProcessOperator {
  operator: Operator;
  identity: string;
  stop(): Promise<void>;
}

/** An operator in this process watching `namespace`, leader election off, HTTP on a free loopback port. */
export async function startInProcessOperator(
  kubeconfig: string,
  namespace: string,
  overrides: Partial<OperatorConfig> = {},
  timings: Timings = FAST_TIMINGS,
): Promise<InProcessOperator> {
  const identity = `test-${randomBytes(4).toString('hex')}`;
  const base = loadConfig([], {})!;
  const cfg: OperatorConfig = {
    ...base,
    watchNamespace: namespace,
    kubeconfig,
    port: 0,
    bindAddress: '127.0.0.1',
    serverImage: 'registry.test/lightrank-server:1',
    sidecarImage: 'registry.test/lightrank-server:1',
    ...overrides,
    leaderElection: { ...base.leaderElection, enabled: false, identity, ...overrides.leaderElection },
  };
  const operator = new Operator(
    cfg,
    loadKubeConfig(kubeconfig),
    createLogger('operator-test'),
    createRegistry('operator-test', { defaultMetrics: false }),
    timings,
  );
  await operator.start();
  return { operator, identity, stop: () => operator.stop() };
}

export interface OperatorProcess {
  child: ChildProcess;
  identity: string;
  /** Everything the process wrote (JSON log lines and any error). */
  output(): string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string>;
}

/**
 * The Node flags the operator image starts `dist/operator/main.js` with (Dockerfile.operator's
 * NODE_OPTIONS; operator/image.test.ts holds the two equal). A heap limit of 256 MiB or less makes
 * V8 grow the old generation by at most 1.3× its live size between full collections, where the
 * default limit on a large machine lets it grow 4× (V8's heap controller scales the factor with
 * the limit): at 300 models 78 MiB of heap committed instead of 125 (bench/results-operator.md).
 * 192 MiB also keeps the heap inside the chart's 256Mi memory limit with the rest of the process.
 */
export const OPERATOR_NODE_ARGS = ['--max-old-space-size=192'];

/**
 * The operator as a real process, env on top of this process's: its entry point through tsx, or
 * with `compiled` the built one (`dist/operator/main.js` with OPERATOR_NODE_ARGS, as the image runs
 * it; `npm run build` first). `nodeArgs` go before the script, after OPERATOR_NODE_ARGS (a flag
 * given twice: the later wins), e.g. `--heapsnapshot-signal=SIGUSR2`.
 */
export function spawnOperator(
  identity: string,
  env: Record<string, string>,
  opts: { compiled?: boolean; nodeArgs?: string[] } = {},
): OperatorProcess {
  const entry = opts.compiled
    ? [join(REPO_ROOT, 'dist/operator/main.js')]
    : ['--import', 'tsx', join(REPO_ROOT, 'operator/main.ts')];
  const imageArgs = opts.compiled ? OPERATOR_NODE_ARGS : [];
  const child = spawn(process.execPath, [...imageArgs, ...(opts.nodeArgs ?? []), ...entry], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      VITEST: '',
      LIGHTRANK_LOG_LEVEL: 'info',
      POD_NAME: identity,
      LIGHTRANK_PORT: '0',
      LIGHTRANK_BIND_ADDRESS: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, identity, output: () => out, exited };
}

/** A client for test reads and writes (the operator's own, so reads are raw JSON). */
export function testClient(kubeconfig: string): KubeClient {
  return new KubeClient(loadKubeConfig(kubeconfig), { userAgent: 'lightrank-test' });
}
