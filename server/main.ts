// Entry point of the scoring server: parse flags/env, pick the data dir (demo mode when none is
// given and the default one holds no model), start, and shut down gracefully on SIGTERM/SIGINT.
//   npm run server -- --port 8080 --model-name demo        (see --help)
import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../lib/logger.js';
import { CONFIG_HELP, parseConfig } from './config.js';
import { prepareDemoDataDir } from './demo.js';
import { createServer } from './server.js';

const log = createLogger('server');

async function hasModel(dataDir: string): Promise<boolean> {
  return access(join(dataDir, 'model', 'current')).then(
    () => true,
    () => false,
  );
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(CONFIG_HELP);
    return;
  }
  const config = parseConfig(process.argv.slice(2), process.env);
  let demoRoot: string | undefined;
  if (config.demo || (!config.dataDirGiven && !(await hasModel(config.dataDir)))) {
    log.info('no model given: building the model kit demo model and snapshot');
    const demo = await prepareDemoDataDir();
    config.dataDir = demo.dataDir;
    demoRoot = demo.root;
  }
  const server = createServer(config, log);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining in-flight requests');
    server
      .stop()
      .then(() => (demoRoot ? rm(demoRoot, { recursive: true, force: true }) : undefined))
      .then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        (e: unknown) => {
          log.error({ err: e }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await server.start();
}

main().catch((e: unknown) => {
  log.fatal({ err: e }, e instanceof Error ? e.message : String(e));
  process.exit(1);
});
