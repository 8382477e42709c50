// agent/podman.ts against real podman: a pod sandbox of two containers from the server image,
// each with the restricted securityContext of a scoring pod, sharing the network namespace (the
// second reaches the server on 127.0.0.1) and an emptyDir (a directory of this machine, mode
// 0777 as a kubelet makes it); the pod IP answers from this machine; stopping a container ends
// its wait with the exit code; a process that exits without removing its sandbox (a second
// Ctrl-C) still leaves none behind.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerRunArgs, PodSandbox, type RunningContainer } from '../../agent/podman.js';
import { waitFor } from '../harness/wait.js';
import { containerSkipReason, OWNER_LABEL, useContainers } from './containers.js';

const skip = containerSkipReason();
if (skip) console.warn(`[pod sandbox] skipped: ${skip}`);

const RESTRICTED: V1Container['securityContext'] = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

// the second container: writes into the shared volume what it got from 127.0.0.1:8080
const PEEK = `
const fs = require('node:fs');
const loop = async () => {
  try {
    const r = await fetch('http://127.0.0.1:8080/v2/health/ready');
    fs.writeFileSync('/shared/peek.tmp', String(r.status));
    fs.renameSync('/shared/peek.tmp', '/shared/peek');
  } catch {}
  setTimeout(loop, 500);
};
loop();
process.on('SIGTERM', () => process.exit(3));
`;

describe.skipIf(skip !== undefined)('a pod sandbox of restricted containers (agent/podman.ts)', () => {
  const containers = useContainers();
  let sandbox: PodSandbox;
  let dir: string;
  let server: RunningContainer;
  let peek: RunningContainer;
  const name = `lightrank-test-pod-${process.pid}`;

  beforeAll(async () => {
    const env = containers.env;
    if (!env) return; // skipped: podman could not be installed
    dir = mkdtempSync(join(tmpdir(), 'lightrank-pod-'));
    const volume = (v: string): string => {
      const d = join(dir, v);
      mkdirSync(d);
      chmodSync(d, 0o777);
      return d;
    };
    const shared = volume('shared');
    const tmp = volume('tmp');
    const pod: V1Pod = {
      metadata: { name: 'pod', namespace: 'test' },
      spec: {
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          { name: 'server', image: env.serverImage, securityContext: RESTRICTED },
          {
            name: 'peek',
            image: env.serverImage,
            command: ['node', '-e', PEEK],
            securityContext: RESTRICTED,
          },
        ],
      },
    };
    const labels = { [OWNER_LABEL]: String(process.pid) };
    sandbox = await PodSandbox.create(name, { env: env.podmanEnv, labels });
    const imageUser = await sandbox.imageUser(env.serverImage);
    const [serverSpec, peekSpec] = pod.spec!.containers;
    server = await sandbox.run(
      containerRunArgs(pod, serverSpec!, {
        podName: name,
        name: `${name}-server`,
        env: { LIGHTRANK_DEMO: 'true' },
        // the read-only root's writable places are the pod's volumes, as in a restricted pod
        mounts: [{ hostPath: tmp, mountPath: '/tmp' }],
        imageUser,
        labels,
      }),
    );
    peek = await sandbox.run(
      containerRunArgs(pod, peekSpec!, {
        podName: name,
        name: `${name}-peek`,
        env: {},
        mounts: [{ hostPath: shared, mountPath: '/shared' }],
        imageUser,
        labels,
      }),
    );
  }, 180_000);

  afterAll(async () => {
    await sandbox?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves on the pod IP, reachable from this machine', async () => {
    expect(sandbox.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await waitFor(
      `server ready at ${sandbox.ip}:8080`,
      async () => (await fetch(`http://${sandbox.ip}:8080/v2/health/ready`)).status === 200,
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(server.isRunning()).toBe(true);
    expect(server.pid).toBeGreaterThan(0);
  });

  it('shares the network namespace and the emptyDir between the containers', async () => {
    const status = await waitFor(
      'the peek container to see the server ready on 127.0.0.1',
      () => {
        try {
          const s = readFileSync(join(dir, 'shared', 'peek'), 'utf8');
          return s === '200' ? s : undefined;
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 30_000 },
    );
    expect(status).toBe('200');
  });

  it('runs them as 65532 on a read-only root; the logs are there', async () => {
    const logs = await sandbox.logs(`${name}-server`);
    expect(logs).toMatch(/"msg":"serving"/);
    // nothing writable outside the volumes: the server's demo data went to the /tmp volume
    const inTmp = readdirSync(join(dir, 'tmp'));
    expect(inTmp.some((f) => f.startsWith('lightrank-demo-'))).toBe(true);
    const owner = statSync(join(dir, 'shared', 'peek')).uid;
    expect(owner).toBe(65532);
  });

  it('removes the sandboxes of a process that exits without removing them', async () => {
    const orphan = `${name}-exit`;
    const script = [
      "import { PodSandbox } from './agent/podman.ts';",
      `await PodSandbox.create(${JSON.stringify(orphan)}, { labels: { ${JSON.stringify(OWNER_LABEL)}: String(process.pid) } });`,
      "console.log('created');",
      'process.exit(3);',
    ].join('\n');
    const env = containers.env!.podmanEnv;
    const child = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: join(import.meta.dirname, '..', '..'),
        env,
      },
    ).catch((err: { code?: number; stdout?: string }) => err);
    expect(child.stdout).toContain('created');
    const exists = await promisify(execFile)('podman', ['pod', 'exists', orphan], { env }).then(
      () => true,
      () => false,
    );
    expect(exists).toBe(false);
  });

  it('stops a container with SIGTERM; its exit code comes back', async () => {
    const status = await peek.stop(10_000);
    expect(status.exitCode).toBe(3);
    expect(peek.isRunning()).toBe(false);
  });
});
