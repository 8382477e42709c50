// Entry point of the scoring server: parse flags/env, pick the data dir (demo mode when none is
// given and the default one holds no model), start, and shut down gracefully on SIGTERM/SIGINT.
//   npm run server -- --port 8080 --model-name demo        (see --help)
import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { createLogger } from '../lib/logger.js';
import { CONFIG_HELP, parseConfig } from './config.js';
import { prepareDemoDataDir } from './demo.js';
import { createServer } from './server.js';

// V8's allocation-site pretenuring, on by default, decides under load that some per-request
// allocation sites' objects live long (requests in flight survive scavenges) and from then on
// allocates them straight into the old generation: at one request at a time that filled it
// enough for a Mark-Compact every ~60 JSON requests (2–20 ms pause plus incremental marking
// steps inside requests), most of the JSON path's p99. Off, per-request garbage dies young.
// Set before anything runs (bench/server-tail.ts measured it; bench/RESULTS.md, 2026-12-06).
setFlagsFromString('--no-allocation-site-pretenuring');

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
