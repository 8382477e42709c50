// Test set-up for the tests that run lightrank's images as containers: podman (installed from
// Debian when missing and this machine allows it), its Docker API socket, the images built by
// scripts/build-images.sh, and testcontainers pointed at that socket.
//
// API:
//   containerSkipReason(env?): string | undefined   at collection time: why these tests cannot run
//     here (no podman and no way to install it), for describe.skipIf; never a reason under
//     CI=true, where the set-up then fails with the cause instead
//   prepareContainers(): Promise<ContainerEnv>   installs/starts/builds what is missing (once per
//     process; the scripts lock, so parallel files wait for one build) — minutes the first time;
//     throws ContainersUnavailable when podman is missing and installing it failed
//   useContainers(): { env }   registers that set-up as a test file's hooks; where podman could
//     not be installed (outside CI) the file's tests skip with the reason
//   hardened(image): LightrankContainer   a GenericContainer run as a restricted pod would run it: read-only
//     root, /tmp a tmpfs, every capability dropped, no privilege escalation, published ports on
//     127.0.0.1 only, never pulled, labelled with this process so leftovers can be reaped
//   PREPARE_TIMEOUT_MS: the beforeAll timeout that covers a cold build
//
// No Ryuk: testcontainers' reaper image (testcontainers/ryuk) cannot be pulled here, and it would
// need podman's socket mounted into a privileged container. TESTCONTAINERS_RYUK_DISABLED=true
// instead: each test file stops its containers in afterAll, and prepareContainers() removes
// containers labelled by a test process that no longer exists (a run killed before its afterAll).
import { execFile, execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GenericContainer } from 'testcontainers';
import { beforeAll, beforeEach } from 'vitest';
import { REPO_ROOT } from '../harness/binaries.js';
import { isAlive } from '../harness/processes.js';

const run = promisify(execFile);

export const OWNER_LABEL = 'dev.lightrank.test-owner-pid';
/** a cold build (mmdebstrap + two images) took 3.5–6.5 min on 2 busy cores; apt-get adds ~30 s */
export const PREPARE_TIMEOUT_MS = 20 * 60_000;

export interface ContainerEnv {
  /** unix:// socket of `podman system service` */
  dockerHost: string;
  serverImage: string;
  operatorImage: string;
  /** podman CLI environment (CONTAINERS_CONF) for the few things testcontainers lacks */
  podmanEnv: NodeJS.ProcessEnv;
}

const PODMAN_SH = join(REPO_ROOT, 'scripts', 'podman.sh');
const BUILD_SH = join(REPO_ROOT, 'scripts', 'build-images.sh');
const CONTAINERS_CONF = join(REPO_ROOT, 'scripts', 'podman', 'containers.conf');

function onPath(cmd: string, env: NodeJS.ProcessEnv): boolean {
  try {
    execFileSync('/bin/sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore', env });
    return true;
  } catch {
    return false;
  }
}

export function containerSkipReason(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CI === 'true') return undefined;
  if (process.platform !== 'linux')
    return `container tests need Linux with podman (this is ${process.platform})`;
  if (onPath('podman', env) && onPath('runc', env)) return undefined;
  const root = process.getuid?.() === 0;
  if (root && onPath('apt-get', env)) return undefined; // prepareContainers() installs them
  return (
    'podman/runc are not installed and cannot be installed here ' +
    `(${root ? 'no apt-get' : 'not root'}): install podman and runc, or run scripts/podman.sh install as root`
  );
}

async function script(path: string, args: string[], logFile: string): Promise<string> {
  try {
    const { stdout, stderr } = await run('bash', [path, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, CONTAINERS_CONF },
      maxBuffer: 64 * 1024 * 1024,
    });
    await appendLog(logFile, `$ ${path} ${args.join(' ')}\n${stderr}`);
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    await appendLog(logFile, `$ ${path} ${args.join(' ')}\n${e.stderr ?? ''}`);
    const tail = (e.stderr ?? '').trim().split('\n').slice(-15).join('\n');
    throw new Error(`${path} ${args.join(' ')} failed (full log: ${logFile}):\n${tail}`);
  }
}

async function appendLog(file: string, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = createWriteStream(file, { flags: 'a' });
    s.on('error', reject);
    s.end(text, resolve);
  });
}

function lastValue(stdout: string, key: string): string {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`scripts/build-images.sh printed no ${key}= line:\n${stdout}`);
  return line.slice(key.length + 1).trim();
}

/** Removes pods and containers left by test processes that died before their afterAll. */
async function reapOrphans(env: NodeJS.ProcessEnv): Promise<void> {
  const format = `{{.ID}} {{index .Labels "${OWNER_LABEL}"}}`;
  const orphans = async (list: string[]): Promise<string[]> => {
    const { stdout } = await run(
      'podman',
      [...list, '--filter', `label=${OWNER_LABEL}`, '--format', format],
      {
        env,
      },
    );
    return stdout
      .split('\n')
      .map((l) => l.trim().split(' '))
      .filter(([id, pid]) => id && pid && !isAlive(Number(pid)))
      .map(([id]) => id!);
  };
  const pods = await orphans(['pod', 'ps']);
  if (pods.length > 0) await run('podman', ['pod', 'rm', '--force', ...pods], { env });
  const containers = await orphans(['ps', '-a']);
  if (containers.length > 0) await run('podman', ['rm', '--force', ...containers], { env });
}

/** podman and runc are missing and installing them failed (offline, no package source, ...) */
export class ContainersUnavailable extends Error {
  override name = 'ContainersUnavailable';
}

let prepared: Promise<ContainerEnv> | undefined;

export function prepareContainers(): Promise<ContainerEnv> {
  prepared ??= (async () => {
    const logDir = join(REPO_ROOT, '.lightrank');
    if (!existsSync(logDir)) mkdirSync(logDir, { recursive: true });
    const logFile = join(logDir, 'containers-setup.log');
    try {
      await script(PODMAN_SH, ['install'], logFile);
    } catch (err) {
      throw new ContainersUnavailable((err as Error).message);
    }
    const dockerHost = (await script(PODMAN_SH, ['service'], logFile)).trim().split('\n').pop() ?? '';
    if (!dockerHost.startsWith('unix://'))
      throw new Error(`scripts/podman.sh service printed "${dockerHost}"`);
    const built = await script(BUILD_SH, [], logFile);
    const podmanEnv = { ...process.env, CONTAINERS_CONF };
    // testcontainers reads these when it first talks to the runtime
    process.env.DOCKER_HOST = dockerHost;
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    // the default "localhost" may resolve to ::1 first; ports are published on 127.0.0.1
    process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';
    await reapOrphans(podmanEnv);
    return {
      dockerHost,
      serverImage: lastValue(built, 'server'),
      operatorImage: lastValue(built, 'operator'),
      podmanEnv,
    };
  })();
  return prepared;
}

/** A container run as a restricted pod runs: see the module header. */
export class LightrankContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    this.hostConfig.ReadonlyRootfs = true;
    this.withTmpFs({ '/tmp': 'rw,size=256m,mode=1777' })
      .withDroppedCapabilities('ALL')
      .withSecurityOpt('no-new-privileges')
      .withPullPolicy({ shouldPull: () => false })
      .withLabels({ [OWNER_LABEL]: String(process.pid) });
  }

  /**
   * Publishes these container ports on 127.0.0.1 (random host ports). Every port the image
   * EXPOSEs must be listed: podman reports unpublished exposed ports as bindings without a host
   * port, which testcontainers waits for.
   */
  withLoopbackPorts(...ports: number[]): this {
    this.withExposedPorts(...ports);
    for (const p of ports)
      this.hostConfig.PortBindings![`${p}/tcp`] = [{ HostIp: '127.0.0.1', HostPort: '0' }];
    return this;
  }
}

export function hardened(image: string): LightrankContainer {
  return new LightrankContainer(image);
}

/**
 * Registers the set-up for a test file: a beforeAll that prepares podman and the images, and a
 * beforeEach that skips every test, with the reason, where podman could not be installed (never
 * under CI=true: there the beforeAll fails). `.env` is set once the set-up succeeded; a file's
 * own beforeAll (registered after this) starts its containers only then.
 */
export function useContainers(): { readonly env: ContainerEnv | undefined } {
  const fixture: { env?: ContainerEnv; unavailable?: string } = {};
  beforeAll(async () => {
    try {
      fixture.env = await prepareContainers();
    } catch (err) {
      if (!(err instanceof ContainersUnavailable) || process.env.CI === 'true') throw err;
      fixture.unavailable = `podman could not be installed: ${err.message}`;
      console.warn(`[containers] skipping: ${fixture.unavailable}`);
    }
  }, PREPARE_TIMEOUT_MS);
  beforeEach((ctx) => {
    if (fixture.unavailable) ctx.skip(fixture.unavailable);
  });
  return {
    get env() {
      return fixture.env;
    },
  };
}
