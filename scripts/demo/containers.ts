// The container half of `npm run demo -- --containers`: podman and the images (scripts/podman.sh,
// scripts/build-images.sh: cached by content, minutes when cold), and the operator installed by
// the Helm chart (helm built from its Go module by scripts/build-helm.sh) with the built images in
// its values, pinned to the local node agent's node, where it runs as a container like every pod.
//
// API:
//   buildImages(log) → Promise<{ server, operator }>      image references, built or reused
//   splitImage(ref) → { repository, tag }
//   operatorValues({ images, nodeName }) → values object for charts/lightrank
//   helmInstall({ kubeconfigPath, values, runDir, namespace, release }) → Promise<{ helm, output }>
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { buildTool } from '../../test/harness/tools.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CONTAINERS_CONF = join(REPO, 'scripts', 'podman', 'containers.conf');
export const CHART = join(REPO, 'charts', 'lightrank');

export interface DemoImages {
  server: string;
  operator: string;
}

function runScript(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  onStderr?: (line: string) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: REPO, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err
        ? reject(
            new Error(
              `${[cmd, ...args].join(' ')} failed: ${stderr.trim().split('\n').slice(-10).join('\n')}`,
            ),
          )
        : resolve(stdout),
    );
    if (onStderr)
      child.stderr?.on('data', (d: Buffer) => {
        for (const line of d.toString().split('\n')) if (line.trim()) onStderr(line);
      });
  });
}

/** Installs podman when missing (Debian, as root) and builds the images that are missing or stale. */
export async function buildImages(log: (line: string) => void): Promise<DemoImages> {
  const env = { ...process.env, CONTAINERS_CONF };
  await runScript('bash', [join(REPO, 'scripts', 'podman.sh'), 'install'], env, log);
  const out = await runScript('bash', [join(REPO, 'scripts', 'build-images.sh')], env, log);
  const value = (key: string): string => {
    const line = out
      .split('\n')
      .reverse()
      .find((l) => l.startsWith(`${key}=`));
    if (!line) throw new Error(`scripts/build-images.sh printed no ${key}= line`);
    return line.slice(key.length + 1).trim();
  };
  return { server: value('server'), operator: value('operator') };
}

/** `localhost/lightrank-server:local-cpu` → { repository: 'localhost/lightrank-server', tag: 'local-cpu' } */
export function splitImage(ref: string): { repository: string; tag: string } {
  const colon = ref.lastIndexOf(':');
  if (colon <= ref.lastIndexOf('/') || ref.includes('@'))
    throw new Error(`image "${ref}": want repository:tag`);
  return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) };
}

/** The chart's values for the demo: the built images, never pulled, the operator on the agent's node. */
export function operatorValues(opts: { images: DemoImages; nodeName: string }): Record<string, unknown> {
  const server = { ...splitImage(opts.images.server), digest: '' };
  return {
    image: { ...splitImage(opts.images.operator), digest: '', pullPolicy: 'Never' },
    scoringImages: { server, sidecar: server, router: server, pullPolicy: 'Never' },
    nodeSelector: { 'kubernetes.io/hostname': opts.nodeName },
    // the demo's node has 2 cores shared with the control plane: a quicker first readiness check
    probes: {
      liveness: { initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
      readiness: { initialDelaySeconds: 1, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 3 },
    },
  };
}

/** `helm install` of charts/lightrank (CRDs included) with its own helm home under `runDir`. */
export async function helmInstall(opts: {
  kubeconfigPath: string;
  values: Record<string, unknown>;
  runDir: string;
  namespace: string;
  release: string;
}): Promise<{ helm: string; output: string }> {
  const helm = join(await buildTool('build-helm.sh'), 'helm');
  const dir = join(opts.runDir, 'helm');
  mkdirSync(dir, { recursive: true });
  const valuesFile = join(dir, 'values.yaml');
  writeFileSync(valuesFile, stringify(opts.values));
  const env = {
    ...process.env,
    HELM_CONFIG_HOME: join(dir, 'config'),
    HELM_CACHE_HOME: join(dir, 'cache'),
    HELM_DATA_HOME: join(dir, 'data'),
  };
  const output = await runScript(
    helm,
    [
      'install',
      opts.release,
      CHART,
      '--namespace',
      opts.namespace,
      '--create-namespace',
      '--kubeconfig',
      opts.kubeconfigPath,
      '-f',
      valuesFile,
    ],
    env,
  );
  return { helm, output };
}

/** What the kernel says a container's processes run with (read by a process started in it). */
export interface InForce {
  uid: number;
  gid: number;
  /** mount options of / : "ro" when the root filesystem is read-only */
  root: string;
  /** what writing a file in /tmp (the pod's emptyDir) gave: "ok" or the error code */
  tmp: string;
  /** effective capabilities (hex mask; 0 when every one is dropped) */
  capEff: string;
  noNewPrivs: string;
  /** 2: a seccomp filter is in force */
  seccomp: string;
}

const IN_FORCE_SCRIPT = `
const fs = require('node:fs');
const status = fs.readFileSync('/proc/self/status', 'utf8');
const field = (k) => (status.match(new RegExp('^' + k + ':\\\\s*(\\\\S+)', 'm')) || [])[1] || '?';
const root = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\\n').map((l) => l.split(' ')).find((f) => f[4] === '/');
let tmp = 'ok';
try { const f = '/tmp/.lightrank-in-force-' + process.pid; fs.writeFileSync(f, 'x'); fs.unlinkSync(f); } catch (e) { tmp = e.code; }
console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), root: root ? root[5].split(',')[0] : '?', tmp,
  capEff: field('CapEff'), noNewPrivs: field('NoNewPrivs'), seccomp: field('Seccomp') }));
`;

/** Runs a probe process in the container (`podman exec`, as the container's user) and reads what is in force. */
export async function inForce(containerId: string): Promise<InForce> {
  const out = await runScript('podman', ['exec', containerId, 'node', '-e', IN_FORCE_SCRIPT], {
    ...process.env,
    CONTAINERS_CONF,
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as InForce;
}
