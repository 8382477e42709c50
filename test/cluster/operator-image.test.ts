// The operator image (Dockerfile.operator, built by scripts/build-images.sh) run as a container
// against the control plane in a box, the way its Deployment runs it: read-only root, every
// capability dropped, no privilege escalation, its numeric non-root user, configured by the
// LIGHTRANK_* variables the Helm chart sets. Host networking: the API server listens on
// 127.0.0.1 of this machine. It must serve /healthz, become ready (leader, caches synced) and
// turn a RankingModel into its Deployments.
import { CoordinationV1Api } from '@kubernetes/client-node';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wait, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_GROUP, API_VERSION, PLURAL } from '../../api/rankingmodel.js';
import { minimalSpec } from '../../api/testing.js';
import { rankingModel } from '../../operator/testing.js';
import { clients, clusterInfo, useTestNamespace, waitFor } from '../harness/cluster.js';
import { freePort } from '../harness/ports.js';
import { containerSkipReason, hardened, useContainers, type ContainerEnv } from '../images/containers.js';

const skip = containerSkipReason();
if (skip) console.warn(`[operator image] skipped: ${skip}`);

const ns = useTestNamespace('operator-image');
const IDENTITY = 'operator-image-test';
const LEASE = 'lightrank-operator-image';

describe.skipIf(skip !== undefined)('operator image as a restricted container', () => {
  const containers = useContainers();
  let env: ContainerEnv;
  let operator: StartedTestContainer;
  let base: string;
  let dir: string;

  beforeAll(async () => {
    if (!containers.env) return; // skipped: podman could not be installed
    env = containers.env;
    // the test kubeconfig is 0600 root's; the container's user 65532 reads a copy
    dir = mkdtempSync(join(tmpdir(), 'lightrank-operator-image-'));
    chmodSync(dir, 0o755);
    const kubeconfig = join(dir, 'kubeconfig');
    copyFileSync(clusterInfo().kubeconfigPath, kubeconfig);
    chmodSync(kubeconfig, 0o644);
    const port = await freePort();
    operator = await hardened(env.operatorImage)
      .withNetworkMode('host')
      .withBindMounts([{ source: kubeconfig, target: '/etc/lightrank/kubeconfig', mode: 'ro' }])
      .withEnvironment({
        KUBECONFIG: '/etc/lightrank/kubeconfig',
        LIGHTRANK_WATCH_NAMESPACE: ns.name,
        LIGHTRANK_PORT: String(port),
        LIGHTRANK_BIND_ADDRESS: '127.0.0.1',
        LIGHTRANK_SERVER_IMAGE: env.serverImage,
        LIGHTRANK_LEADER_ELECTION: 'true',
        LIGHTRANK_LEASE_NAME: LEASE,
        LIGHTRANK_LEASE_NAMESPACE: ns.name,
        POD_NAME: IDENTITY,
      })
      .withWaitStrategy(Wait.forLogMessage('operator started'))
      .withStartupTimeout(60_000)
      .start();
    base = `http://127.0.0.1:${port}`;
  }, 180_000);

  afterAll(async () => {
    await operator?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves /healthz, and /readyz once it leads with its caches synced', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    await waitFor('operator /readyz 200', async () => (await fetch(`${base}/readyz`)).status === 200, {
      timeoutMs: 60_000,
    });
    const leases = clients().kc.makeApiClient(CoordinationV1Api);
    const lease = await leases.readNamespacedLease({ name: LEASE, namespace: ns.name });
    expect(lease.spec?.holderIdentity).toBe(IDENTITY);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^lightrank_process_cpu_seconds_total\{[^}]*component="operator"/m);
  });

  it('turns a RankingModel into a Deployment running the configured server image', async () => {
    await clients().custom.createNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      body: rankingModel('image-test', ns.name, minimalSpec()),
    });
    const deployment = await waitFor(
      'a Deployment of RankingModel image-test',
      async () => {
        const list = await clients().apps.listNamespacedDeployment({ namespace: ns.name });
        return list.items.find((d) => d.metadata?.ownerReferences?.some((o) => o.name === 'image-test'));
      },
      { timeoutMs: 60_000 },
    );
    const images = deployment.spec?.template.spec?.containers.map((c) => c.image);
    expect(images).toContain(env.serverImage);
  });

  it("runs as the image's user 65532 on a read-only root", async () => {
    const id = await operator.exec(['id', '-u']);
    expect(id.stdout.trim()).toBe('65532');
    const write = await operator.exec(['sh', '-c', 'touch /app/x']);
    expect(write.exitCode).not.toBe(0);
    expect(write.output).toMatch(/Read-only file system/);
  });
});
