// Entry point of the sync sidecar (second container of a scoring pod, same image as the server):
// parse the environment, wire logger, metrics, Events and the sync loop, serve health and metrics.
import { createLogger } from '../lib/logger.js';
import { createRegistry } from '../lib/metrics.js';
import { SIDECAR_HELP, parseSidecarConfig } from './config.js';
import { eventReporterFromEnv } from './events.js';
import { createHealthServer } from './http.js';
import { podStatusReporterFromEnv } from './pod-status.js';
import { Sidecar } from './sidecar.js';

const log = createLogger('sidecar');
let parsed;
try {
  parsed = parseSidecarConfig(process.argv.slice(2), process.env);
} catch (err) {
  log.fatal((err as Error).message);
  process.exit(2);
}
if (!parsed) {
  process.stdout.write(`${SIDECAR_HELP}\n`);
  process.exit(0);
}
const config = parsed;
const registry = createRegistry('sidecar');
registry.setDefaultLabels({
  component: 'sidecar',
  segment: config.segment,
  track: config.track,
});
const sidecar = new Sidecar(config.sync, {
  log,
  registry,
  events: eventReporterFromEnv(process.env, log),
  podStatus: podStatusReporterFromEnv(process.env, log),
});
const server = createHealthServer(registry, () => sidecar.ready);

try {
  await sidecar.start();
} catch (err) {
  log.fatal({ err: (err as Error).message }, 'cannot prepare the data directory');
  process.exit(1);
}
// --host / LIGHTRANK_HOST: the address to bind (default every interface); the local node agent sets
// it to the pod's own loopback address, so several pods on one machine each have their port 8081.
server.listen(config.port, config.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info({ port, dataDir: config.sync.dataDir, snapshotUri: config.sync.snapshotUri }, 'sidecar listening');
});

// A sync in progress is not waited for beyond a few seconds: its temp folder is removed at the
// next start, and `current` only ever points at a complete version.
const STOP_GRACE_MS = 5_000;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'stopping');
    server.close();
    setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
    void sidecar.stop().then(() => process.exit(0));
  });
}
