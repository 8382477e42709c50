// Leader election with real operator processes: of two, only the leader reconciles (the audit
// log shows no write from the follower); SIGKILL the leader and the follower takes the Lease
// within the lease duration (plus at most two retry periods, client-go's bound) and converges
// the cluster; SIGTERM releases the Lease on the way out.
import { afterAll, describe, expect, it } from 'vitest';
import { API_GROUP, API_VERSION, PLURAL } from '../../api/rankingmodel.js';
import { minimalSpec } from '../../api/testing.js';
import type { Lease } from '../../operator/runtime/leader.js';
import { LEASES } from '../../operator/runtime/kube/types.js';
import {
  rankingModel,
  spawnOperator,
  testClient,
  userAgentOf,
  type OperatorProcess,
} from '../../operator/testing.js';
import { countAuditWrites } from '../harness/audit.js';
import { clients, clusterInfo, useTestNamespace, waitFor } from '../harness/cluster.js';

const ns = useTestNamespace('operator-leader');
const LEASE_S = 4;
const RETRY_S = 0.5;
const LEASE = 'lightrank-operator-test';
const procs: OperatorProcess[] = [];

function start(identity: string): OperatorProcess {
  const p = spawnOperator(identity, {
    KUBECONFIG: clusterInfo().kubeconfigPath,
    LIGHTRANK_WATCH_NAMESPACE: ns.name,
    LIGHTRANK_LEASE_NAMESPACE: ns.name,
    LIGHTRANK_LEASE_NAME: LEASE,
    LIGHTRANK_LEASE_DURATION_SECONDS: String(LEASE_S),
    LIGHTRANK_RENEW_DEADLINE_SECONDS: '3',
    LIGHTRANK_RETRY_PERIOD_SECONDS: String(RETRY_S),
  });
  procs.push(p);
  return p;
}

const client = () => testClient(clusterInfo().kubeconfigPath);
const holder = async () => (await client().get<Lease>(LEASES, ns.name, LEASE)).spec?.holderIdentity ?? '';
const writesBy = (identity: string, since?: Date) =>
  countAuditWrites(clusterInfo().auditLogPath!, { userAgent: userAgentOf(identity), since });
const replicasOf = async (name: string) =>
  (await clients().apps.readNamespacedDeployment({ name, namespace: ns.name })).spec?.replicas;

afterAll(async () => {
  for (const p of procs)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
});

describe('two operator processes', () => {
  let a: OperatorProcess;
  let b: OperatorProcess;

  it('only the leader reconciles', async () => {
    a = start('op-a');
    await waitFor('op-a to lead', async () => (await holder()) === 'op-a', {
      timeoutMs: 30_000,
      abortIf: () => (a.child.exitCode !== null ? `op-a exited: ${a.output()}` : undefined),
    });
    b = start('op-b');
    await waitFor('op-b to be up', () => b.output().includes('operator started'), { timeoutMs: 30_000 });

    await clients().custom.createNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      body: rankingModel('m1', ns.name, minimalSpec()),
    });
    await waitFor('Deployment m1-main', () => replicasOf('m1-main'), { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 2 * RETRY_S * 1000));
    expect(writesBy('op-a')).toBeGreaterThan(0);
    expect(writesBy('op-b')).toBe(0);
    expect(await holder()).toBe('op-a');
  });

  it('SIGKILL the leader: the other takes over within the lease duration and converges', async () => {
    a.child.kill('SIGKILL');
    const killedAt = Date.now();
    await a.exited;
    await waitFor('op-b to take the lease', async () => (await holder()) === 'op-b', {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    const tookMs = Date.now() - killedAt;
    expect(tookMs).toBeLessThanOrEqual((LEASE_S + 2 * RETRY_S) * 1000 + 500);

    // the new leader does the work: a spec change reaches the Deployment
    const since = new Date();
    await clients().custom.patchNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      name: 'm1',
      body: [{ op: 'replace', path: '/spec/segments/0/replicas', value: 3 }],
    });
    await waitFor('m1-main scaled to 3 by op-b', async () => (await replicasOf('m1-main')) === 3, {
      timeoutMs: 30_000,
    });
    expect(writesBy('op-b', since)).toBeGreaterThan(0);
    expect(b.output()).toContain('became leader');
  });

  it('SIGTERM releases the lease', async () => {
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    expect(await holder()).toBe('');
    expect(b.output()).toContain('released the lease');
  });
});
