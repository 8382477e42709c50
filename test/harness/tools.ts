// Tools built from their Go modules (or installed into a virtualenv) by the scripts under scripts/
// into the cache outside the repo: each script builds what is missing (a cold build takes
// minutes; a cached run well under a second) and prints the tool's directory on its last stdout
// line. The scripts are the one place that knows versions and cache layout.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './binaries.js';

/** A cold build can take this long on 2 cores; callers with a timeout give it at least this. */
export const TOOL_BUILD_TIMEOUT_MS = 20 * 60_000;

/** Runs scripts/<script> and returns the directory it printed last; its progress goes to stderr. */
export async function buildTool(script: string): Promise<string> {
  const path = join(REPO_ROOT, 'scripts', script);
  const out = await new Promise<string>((resolve, reject) => {
    const child = execFile('bash', [path], { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout) =>
      err ? reject(new Error(`${path} failed: ${err.message}`)) : resolve(stdout),
    );
    child.stderr?.pipe(process.stderr);
  });
  const dir = out.trimEnd().split('\n').pop() ?? '';
  if (!dir.startsWith('/') || !existsSync(dir))
    throw new Error(`${path} did not print the directory it built into (got "${dir}")`);
  return dir;
}

/**
 * The Prometheus binary: $LIGHTRANK_PROMETHEUS when set (a Prometheus of the user's own), else
 * the one scripts/build-prometheus.sh builds from its Go module into the cache.
 */
export async function prometheusBinary(): Promise<string> {
  const own = process.env.LIGHTRANK_PROMETHEUS;
  if (own) {
    if (!existsSync(own)) throw new Error(`LIGHTRANK_PROMETHEUS=${own}: no such file`);
    return own;
  }
  return join(await buildTool('build-prometheus.sh'), 'prometheus');
}
