// Entry point of the operator: parse config, wire, start; SIGTERM/SIGINT shut down gracefully
// (stop taking work, finish reconciles in flight, release the lease). Exits 1 when the lease is
// lost, so the Deployment restarts it as a candidate.
import { createLogger } from '../lib/logger.js';
import { createRegistry } from '../lib/metrics.js';
import { loadConfig, usage } from './config.js';
import { Operator } from './manager.js';
import { loadClusterCredentials } from './runtime/kube/kubeconfig.js';

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage()}\n`);
    process.exit(2);
  }
  if (!cfg) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const logger = createLogger('operator', { level: cfg.logLevel });
  const operator = new Operator(
    cfg,
    await loadClusterCredentials(cfg.kubeconfig),
    logger,
    createRegistry('operator'),
  );
  let exiting = false;
  const shutdown = (signal: string, code: number) => {
    if (exiting) return;
    exiting = true;
    logger.info({ signal }, 'shutting down');
    operator.stop().then(
      () => process.exit(code),
      (err: unknown) => {
        logger.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  process.on('SIGINT', () => shutdown('SIGINT', 0));
  operator.on('lost', () => shutdown('lease lost', 1));
  await operator.start();
  logger.info(
    {
      port: operator.port,
      namespace: cfg.watchNamespace || '(all)',
      leaderElection: cfg.leaderElection.enabled,
      identity: cfg.leaderElection.identity,
    },
    'operator started',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`operator failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
