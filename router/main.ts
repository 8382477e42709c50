// Entry point of the router Deployment: reads flags/env, starts the router, reloads the table on SIGHUP,
// drains on SIGTERM/SIGINT.
//   tsx router/main.ts [--table PATH] [--port N] [--host ADDR] [--reload-interval-ms N] [--upstream-timeout-ms N]
//                      [--resolver dns|kubernetes] [--kubeconfig PATH]
// Env (flags win): LIGHTRANK_ROUTER_TABLE, LIGHTRANK_PORT, LIGHTRANK_ROUTER_RELOAD_INTERVAL_MS,
// LIGHTRANK_ROUTER_UPSTREAM_TIMEOUT_MS, LIGHTRANK_ROUTER_RESOLVER (default dns), LIGHTRANK_ROUTER_KUBECONFIG
// (default: in-cluster config), LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP (FROM_CIDR=TO_CIDR, local nodes only).
import { parseArgs } from 'node:util';
import { createLogger } from '../lib/logger.js';
import { createRouter } from './app.js';
import { KubernetesResolver, loadRouterKubeConfig, parseAddressMap } from './resolve-kubernetes.js';

const logger = createLogger('router');

function intOption(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      table: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'reload-interval-ms': { type: 'string' },
      'upstream-timeout-ms': { type: 'string' },
      resolver: { type: 'string' },
      kubeconfig: { type: 'string' },
    },
  });
  const env = process.env;
  const tablePath = values.table ?? env.LIGHTRANK_ROUTER_TABLE ?? '/etc/lightrank/router/table.json';
  const port = intOption('port', values.port ?? env.LIGHTRANK_PORT, 8080, 0);
  const reloadIntervalMs = intOption(
    'reload interval',
    values['reload-interval-ms'] ?? env.LIGHTRANK_ROUTER_RELOAD_INTERVAL_MS,
    2_000,
    10,
  );
  const upstreamTimeoutMs = intOption(
    'upstream timeout',
    values['upstream-timeout-ms'] ?? env.LIGHTRANK_ROUTER_UPSTREAM_TIMEOUT_MS,
    30_000,
    1,
  );

  const resolverKind = values.resolver ?? env.LIGHTRANK_ROUTER_RESOLVER ?? 'dns';
  if (resolverKind !== 'dns' && resolverKind !== 'kubernetes')
    throw new Error(`resolver must be "dns" or "kubernetes", got "${resolverKind}"`);
  const addressMap = env.LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP;
  const resolver =
    resolverKind === 'kubernetes'
      ? new KubernetesResolver({
          kubeConfig: loadRouterKubeConfig(values.kubeconfig ?? env.LIGHTRANK_ROUTER_KUBECONFIG),
          logger,
          ...(addressMap ? { mapAddress: parseAddressMap(addressMap) } : {}),
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
  await router.listen(port, values.host);
}

main().catch((err: Error) => {
  logger.fatal({ err: err.message }, 'router failed to start');
  process.exit(1);
});
