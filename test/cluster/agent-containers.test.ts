// The local node agent in container mode (`runtime: 'containers'`) against the real control plane
// and the real podman: a restricted pod of two containers from the built server image (the server
// with its readiness probe, and a second container sharing its emptyDir and network namespace)
// runs as a podman pod. Given such a pod, then its status carries the sandbox's own IP, which
// answers from this machine; the probe makes it Ready; both containers run as 65532 on a read-only
// root (a write outside the volumes is refused); the second container reaches the API server as
// the pod's ServiceAccount through the projected token volume; a container that exits is
// restarted; what a container writes to its terminationMessagePath (a host file bound there, as
// a kubelet does) is its termination message; one past its memory limit is killed; an image
// that is not on this machine is refused by name; deleting the pod removes its sandbox;
// stopping the agent leaves no podman pod of its node behind.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeAgent, type NodeAgent } from '../../agent/agent.js';
import { clients, isPodReady, useTestNamespace, waitFor } from '../harness/cluster.js';
import { containerSkipReason, PREPARE_TIMEOUT_MS, useContainers } from '../images/containers.js';

const run = promisify(execFile);
const skip = containerSkipReason();
if (skip) console.warn(`[agent containers] skipped: ${skip}`);

const ns = useTestNamespace('agent-ctr');
const NODE = `lightrank-ctr-${randomBytes(3).toString('hex')}`;
const TAINT = { key: 'lightrank.dev/local-node-agent', value: 'test', effect: 'NoSchedule' as const };
const PLACEMENT = {
  nodeSelector: { 'kubernetes.io/hostname': NODE },
  tolerations: [{ key: TAINT.key, operator: 'Exists', effect: 'NoSchedule' }],
};
const RESTRICTED: V1Container['securityContext'] = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

// the second container: asks the API server who it is (SelfSubjectReview) with the pod's projected
// token and CA, reads the server's readiness on 127.0.0.1 (the pod's shared network namespace),
// tries to write outside its volumes, and leaves each answer in the shared emptyDir
const PEEK = `
const fs = require('node:fs'), https = require('node:https');
const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
const put = (name, text) => { fs.writeFileSync('/shared/' + name + '.tmp', text); fs.renameSync('/shared/' + name + '.tmp', '/shared/' + name); };
try { fs.writeFileSync('/app/x', 'x'); put('rootfs', 'writable'); } catch (e) { put('rootfs', e.code); }
put('uid', String(process.getuid()));
const req = https.request({
  host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, method: 'POST',
  path: '/apis/authentication.k8s.io/v1/selfsubjectreviews', ca: fs.readFileSync(sa + '/ca.crt'),
  headers: { authorization: 'Bearer ' + fs.readFileSync(sa + '/token', 'utf8'), 'content-type': 'application/json' },
}, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => put('whoami', b)); });
req.on('error', (e) => put('whoami', 'ERROR ' + e.message));
req.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));
const loop = async () => {
  try { put('ready', String((await fetch('http://127.0.0.1:8080/v2/health/ready')).status)); } catch {}
  setTimeout(loop, 500);
};
loop();
process.on('SIGTERM', () => process.exit(0));
`;

describe.skipIf(skip !== undefined)('local node agent, container mode (podman)', () => {
  const containers = useContainers();
  let agent: NodeAgent;
  let runDir: string;
  let image: string;

  const podmanOut = async (...args: string[]): Promise<string> =>
    (await run('podman', args, { env: containers.env!.podmanEnv })).stdout;
  const sandboxesOfNode = async (): Promise<string[]> =>
    (
      await podmanOut(
        'pod',
        'ps',
        '--filter',
        `label=dev.lightrank.agent-node=${NODE}`,
        '--format',
        '{{.Name}}',
      )
    )
      .split('\n')
      .filter(Boolean);
  const readPod = (name: string): Promise<V1Pod> =>
    clients().core.readNamespacedPod({ name, namespace: ns.name });
  const podDir = (pod: V1Pod): string =>
    join(runDir, `${ns.name}_${pod.metadata!.name}_${pod.metadata!.uid}`, 'volumes', 'shared');
  const shared = (pod: V1Pod, file: string): string | undefined => {
    try {
      return readFileSync(join(podDir(pod), file), 'utf8');
    } catch {
      return undefined;
    }
  };

  beforeAll(async () => {
    if (!containers.env) return; // skipped: podman could not be installed
    image = containers.env.serverImage;
    runDir = mkdtempSync(join(tmpdir(), 'lightrank-agent-ctr-'));
    agent = await startNodeAgent({
      kubeConfig: clients().kc,
      nodeName: NODE,
      runDir,
      runtime: 'containers',
      podman: { env: containers.env.podmanEnv },
      taints: [TAINT],
      deleteNodeOnStop: true,
      shutdownGraceMs: 5_000,
    });
    await waitFor(`node ${NODE} Ready`, async () => {
      const node = await clients().core.readNode({ name: NODE });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    });
  }, PREPARE_TIMEOUT_MS);

  afterAll(async () => {
    await agent?.stop();
    if (runDir) rmSync(runDir, { recursive: true, force: true });
  });

  it('runs a restricted two-container pod from the image: pod IP, probe, shared volume and network, non-root, read-only root, ServiceAccount token', async () => {
    const pod = await clients().core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name: 'scoring' },
        spec: {
          ...PLACEMENT,
          terminationGracePeriodSeconds: 10,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 },
          volumes: [
            { name: 'shared', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
          ],
          containers: [
            {
              name: 'server',
              image,
              env: [{ name: 'LIGHTRANK_DEMO', value: 'true' }],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/v2/health/ready', port: 'http' }, periodSeconds: 1 },
              securityContext: RESTRICTED,
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
            {
              name: 'peek',
              image,
              command: ['node', '-e', PEEK],
              securityContext: RESTRICTED,
              volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
            },
          ],
        },
      },
    });
    const ready = await waitFor(
      'pod scoring Ready with a pod IP',
      async () => {
        const p = await readPod('scoring');
        return isPodReady(p) && p.status?.podIP ? p : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const ip = ready.status!.podIP!;
    // the sandbox's own address on podman's network, not a loopback stand-in
    const sandbox = (await sandboxesOfNode()).find((n) => n.includes(`_${ns.name}_scoring_`));
    expect(sandbox).toBeDefined();
    const infra = (await podmanOut('pod', 'inspect', sandbox!, '--format', '{{.InfraContainerID}}')).trim();
    expect((await podmanOut('inspect', infra, '--format', '{{.NetworkSettings.IPAddress}}')).trim()).toBe(ip);
    expect((await fetch(`http://${ip}:8080/v2/health/ready`)).status).toBe(200);
    const ids = ready.status!.containerStatuses!.map((c) => c.containerID);
    expect(ids.every((id) => id?.startsWith('podman://'))).toBe(true);
    expect(ready.status!.containerStatuses!.map((c) => c.image).sort()).toEqual([image, image]);

    const files = await waitFor(
      'the peek container to leave its answers in the shared emptyDir',
      () => {
        const got = ['ready', 'uid', 'rootfs', 'whoami'].map((f) => shared(pod, f));
        return got.every((x) => x !== undefined) && got[0] === '200' ? got : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const [, uid, rootfs, whoami] = files as string[];
    expect(uid).toBe('65532');
    expect(rootfs).toBe('EROFS');
    expect(JSON.parse(whoami!).status?.userInfo?.username, whoami).toBe(
      `system:serviceaccount:${ns.name}:default`,
    );
    // the server's demo model went to its /tmp volume: nothing else on its root was writable
    const tmp = join(runDir, `${ns.name}_scoring_${pod.metadata!.uid}`, 'volumes', 'tmp');
    expect(readdirSync(tmp).some((f) => f.startsWith('lightrank-demo-'))).toBe(true);
  });

  it('restarts a container that exits, per restartPolicy, and counts it', async () => {
    await clients().core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name: 'crasher' },
        spec: {
          ...PLACEMENT,
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'crash',
              image,
              command: ['node', '-e', 'setTimeout(() => process.exit(3), 300)'],
              securityContext: { ...RESTRICTED, runAsUser: 65532 },
            },
          ],
        },
      },
    });
    const status = await waitFor(
      'container crash restarted at least twice',
      async () => {
        const s = (await readPod('crasher')).status?.containerStatuses?.[0];
        return (s?.restartCount ?? 0) >= 2 ? s : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(status.lastState?.terminated?.exitCode).toBe(3);
  });

  it('reports what a container wrote to its terminationMessagePath, as a kubelet mounts it', async () => {
    await clients().core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name: 'reporter' },
        spec: {
          ...PLACEMENT,
          restartPolicy: 'Never',
          containers: [
            {
              name: 'default-path',
              image,
              command: [
                'node',
                '-e',
                `require('node:fs').writeFileSync('/dev/termination-log', '{"items":40000}')`,
              ],
              securityContext: { ...RESTRICTED, runAsUser: 65532 },
            },
            {
              name: 'own-path',
              image,
              command: [
                'node',
                '-e',
                `require('node:fs').writeFileSync('/run/done/why', 'bad row 7'); process.exit(2)`,
              ],
              terminationMessagePath: '/run/done/why',
              securityContext: { ...RESTRICTED, runAsUser: 65532 },
            },
          ],
        },
      },
    });
    const statuses = await waitFor(
      'both containers of pod reporter terminated',
      async () => {
        const s = (await readPod('reporter')).status?.containerStatuses;
        return s?.length === 2 && s.every((c) => c.state?.terminated) ? s : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const byName = Object.fromEntries(statuses.map((c) => [c.name, c.state!.terminated!]));
    expect(byName['default-path']).toMatchObject({ exitCode: 0, message: '{"items":40000}' });
    expect(byName['own-path']).toMatchObject({ exitCode: 2, message: 'bad row 7' });
  });

  it('enforces the memory limit: a container past it is killed', async () => {
    await clients().core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name: 'hog' },
        spec: {
          ...PLACEMENT,
          restartPolicy: 'Never',
          containers: [
            {
              name: 'hog',
              image,
              // 512 MiB at most, then holds it: without the limit it would live on
              command: [
                'node',
                '-e',
                'const a = []; setInterval(() => a.length < 32 && a.push(Buffer.alloc(16 << 20, 1)), 20);',
              ],
              resources: { limits: { memory: '128Mi' } },
              securityContext: { ...RESTRICTED, runAsUser: 65532 },
            },
          ],
        },
      },
    });
    const terminated = await waitFor(
      'container hog terminated',
      async () => (await readPod('hog')).status?.containerStatuses?.[0]?.state?.terminated,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // SIGKILLed by the kernel's OOM killer (podman on these cgroup v1 machines does not report
    // OOMKilled, so the reason is the plain Error)
    expect(terminated.exitCode).toBe(137);
    expect((await readPod('hog')).status?.phase).toBe('Failed');
  });

  it('refuses, by name, an image that is not on this machine', async () => {
    await clients().core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name: 'missing-image' },
        spec: { ...PLACEMENT, containers: [{ name: 'c', image: 'localhost/lightrank-nowhere:1' }] },
      },
    });
    const waiting = await waitFor(
      'missing-image refused',
      async () => (await readPod('missing-image')).status?.containerStatuses?.[0]?.state?.waiting,
      { timeoutMs: 30_000 },
    );
    expect(waiting.reason).toBe('ErrImageNeverPull');
    expect(waiting.message).toMatch(/localhost\/lightrank-nowhere:1/);
  });

  it('removes the sandbox when the pod is deleted, and every sandbox of its node when it stops', async () => {
    const before = await sandboxesOfNode();
    expect(before.some((n) => n.includes(`_${ns.name}_crasher_`))).toBe(true);
    await clients().core.deleteNamespacedPod({ name: 'crasher', namespace: ns.name });
    await waitFor(
      'pod crasher gone with its sandbox',
      async () => {
        const gone = await readPod('crasher').then(
          () => false,
          () => true,
        );
        return gone && !(await sandboxesOfNode()).some((n) => n.includes(`_${ns.name}_crasher_`));
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    await agent.stop();
    expect(await sandboxesOfNode()).toEqual([]);
  });
});
