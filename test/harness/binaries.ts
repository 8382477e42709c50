// Where the control plane's binaries come from: scripts/build-control-plane.sh builds them into
// a cache keyed by version (or reuses it, quickly) and prints the cache directory on its last
// stdout line. The script is the one place that knows versions and cache layout.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUILD_SCRIPT = join(REPO_ROOT, 'scripts', 'build-control-plane.sh');

export interface ControlPlaneBinaries {
  cacheDir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  /** kwok's stage configs (a copy of its module's kustomize/stage/) */
  kwokStagesDir: string;
  /** Gateway API standard-channel CRD YAMLs */
  gatewayApiCrdsDir: string;
}

function layout(cacheDir: string): ControlPlaneBinaries {
  const bin = (name: string): string => join(cacheDir, 'bin', name);
  return {
    cacheDir,
    etcd: bin('etcd'),
    kubeApiserver: bin('kube-apiserver'),
    kubeControllerManager: bin('kube-controller-manager'),
    kubeScheduler: bin('kube-scheduler'),
    kubectl: bin('kubectl'),
    kwok: bin('kwok'),
    kwokStagesDir: join(cacheDir, 'kwok-stages'),
    gatewayApiCrdsDir: join(cacheDir, 'gateway-api-crds'),
  };
}

function missing(b: ControlPlaneBinaries): string[] {
  const { cacheDir: _cacheDir, ...paths } = b;
  return Object.values(paths).filter((p) => !existsSync(p));
}

/** The cache directory for the pinned versions, without building anything. */
export function controlPlaneCacheDir(): string {
  const out = execFileSync('bash', [BUILD_SCRIPT, '--print-dir'], { encoding: 'utf8' });
  return lastLine(out);
}

/** The binaries if they are all built already, else undefined. */
export function cachedBinaries(): ControlPlaneBinaries | undefined {
  const b = layout(controlPlaneCacheDir());
  return missing(b).length === 0 ? b : undefined;
}

/**
 * Runs the build script, which builds what is missing (a cold build takes many minutes; a
 * cached run well under a second), and returns the binaries. The script's progress goes to our
 * stderr unless `quiet`, in which case it only appears in the error when the build fails.
 */
export async function ensureBinaries(opts: { quiet?: boolean } = {}): Promise<ControlPlaneBinaries> {
  const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (!opts.quiet) process.stderr.write(d);
    stderr = (stderr + d).slice(-8000);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) {
    throw new Error(`${BUILD_SCRIPT} failed (exit ${code}):\n${stderr}`);
  }
  const b = layout(lastLine(stdout));
  const absent = missing(b);
  if (absent.length > 0)
    throw new Error(`${BUILD_SCRIPT} finished but these are missing: ${absent.join(', ')}`);
  return b;
}

function lastLine(text: string): string {
  const line = text.trimEnd().split('\n').pop() ?? '';
  if (!line.startsWith('/'))
    throw new Error(`${BUILD_SCRIPT} did not print the cache directory (got "${line}")`);
  return line;
}
