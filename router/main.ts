// Entry point of the router Deployment: reads flags/env (router/config.ts, `--help`), starts the
// router, reloads the table on SIGHUP, drains on SIGTERM/SIGINT.
import { createLogger } from '../lib/logger.js';
import { createRouter } from './app.js';
import { ROUTER_HELP, parseRouterConfig } from './config.js';
import { KubernetesResolver, loadRouterCredentials } from './resolve-kubernetes.js';

const logger = createLogger('router');

async function main(): Promise<void> {
  const config = parseRouterConfig(process.argv.slice(2), process.env);
  if (!config) {
    process.stdout.write(`${ROUTER_HELP}\n`);
    return;
  }
  const { table: tablePath, reloadIntervalMs, upstreamTimeoutMs, endpointAddressMap } = config;
  const resolver =
    config.resolver === 'kubernetes'
      ? new KubernetesResolver({
          kubeConfig: await loadRouterCredentials(config.kubeconfig),
          logger,
          ...(endpointAddressMap ? { mapAddress: endpointAddressMap } : {}),
        })
      : undefined;

  const router = createRouter({
    tablePath,
    reloadIntervalMs,
    upstreamTimeoutMs,
    logger,
    ...(resolver ? { resolver } : {}),
  });
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading the router table');
    void router.reload();
  });
  const stop = (signal: string): void => {
    logger.info({ signal }, 'draining and stopping');
    router.close().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await router.listen(config.port, config.host);
}

main().catch((err: Error) => {
  logger.fatal({ err: err.message }, 'router failed to start');
  process.exit(1);
});
