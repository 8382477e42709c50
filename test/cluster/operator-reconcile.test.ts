// The operator in this process against the control plane in a box: a RankingModel becomes
// exactly the Deployments and Services the builders describe, scheduled on GPU nodes, Ready;
// spec changes roll through; a resync with nothing changed makes zero API writes (counted in
// the API server's audit log); hand edits and deletions are undone; a removed segment is
// pruned; deleting the model garbage-collects everything it owned.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  API_GROUP,
  API_VERSION,
  PLURAL,
  RankingModelSpecSchema,
  type RankingModelSpecInput,
} from '../../api/rankingmodel.js';
import { resolveSegments } from '../../api/resolve.js';
import { twoSegmentSpec } from '../../api/testing.js';
import { isSubset, withHash } from '../../operator/runtime/apply.js';
import { buildDeployment, buildService } from '../../operator/builders.js';
import { rankingModel, userAgentOf } from '../../operator/testing.js';
import { cachedBinaries } from '../harness/binaries.js';
import { clients, clusterInfo, useTestNamespace, waitFor } from '../harness/cluster.js';
import { TEST_IMAGE, useInProcessOperator } from './operator-fixture.js';
import { countAuditWrites } from '../harness/audit.js';

const ns = useTestNamespace('operator-reconcile');
const run = promisify(execFile);
const IMAGE = TEST_IMAGE;
const operator = useInProcessOperator(ns);

type Obj = {
  metadata: { name: string; uid?: string; generation?: number; ownerReferences?: { uid: string }[] };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
};

async function kubectl(...args: string[]): Promise<string> {
  const bin = cachedBinaries()?.kubectl;
  if (!bin) throw new Error('kubectl is not in the control-plane cache (run scripts/build-control-plane.sh)');
  return (await run(bin, ['--kubeconfig', clusterInfo().kubeconfigPath, ...args])).stdout;
}

const custom = () => clients().custom;
const getModel = async (name: string) =>
  (await custom().getNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    namespace: ns.name,
    plural: PLURAL,
    name,
  })) as Obj;
const getDeployment = async (name: string) =>
  JSON.parse(await kubectl('get', 'deployment', name, '-n', ns.name, '-o', 'json')) as Obj;
const getService = async (name: string) =>
  JSON.parse(await kubectl('get', 'service', name, '-n', ns.name, '-o', 'json')) as Obj;

async function patchSpec(name: string, spec: Partial<RankingModelSpecInput>) {
  await kubectl(
    'patch',
    'rankingmodel',
    name,
    '-n',
    ns.name,
    '--type',
    'merge',
    '-p',
    JSON.stringify({ spec }),
  );
}

/** Ready=True for the model's current generation. */
async function waitReady(name: string, timeoutMs = 60_000) {
  return waitFor(
    `RankingModel ${name} Ready`,
    async () => {
      const m = await getModel(name);
      const conds = (m.status?.conditions ?? []) as {
        type: string;
        status: string;
        observedGeneration?: number;
      }[];
      const ready = conds.find((c) => c.type === 'Ready');
      if (ready?.status === 'True' && ready.observedGeneration === m.metadata.generation) return m;
      throw new Error(`status: ${JSON.stringify(m.status ?? {})}`);
    },
    { timeoutMs },
  );
}

const modelEvents = async (name: string) =>
  (
    await clients().core.listNamespacedEvent({
      namespace: ns.name,
      fieldSelector: `involvedObject.name=${name}`,
    })
  ).items;

const writesSince = (since: Date) =>
  countAuditWrites(clusterInfo().auditLogPath!, { userAgent: userAgentOf(operator.op.identity), since });

describe('a RankingModel with two segments', () => {
  const name = 'ads';

  it('becomes the Deployments and Services the builders describe, on GPU nodes, Ready', async () => {
    const spec: RankingModelSpecInput = {
      ...twoSegmentSpec(),
      serving: { resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '2Gi' } } },
    };
    await custom().createNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      body: rankingModel(name, ns.name, spec),
    });
    const model = await waitReady(name);

    // exactly as specified: every field the builders produce is live, with the hash annotation
    const parsed = {
      apiVersion: 'lightrank.dev/v1alpha1' as const,
      kind: 'RankingModel' as const,
      metadata: model.metadata,
      spec: RankingModelSpecSchema.parse(spec),
    };
    for (const seg of resolveSegments(parsed.spec, { image: IMAGE })) {
      const want = withHash(buildDeployment(parsed, seg, 'stable', { sidecarImage: IMAGE }));
      const live = await getDeployment(want.metadata.name);
      expect(isSubset(want, live), `Deployment ${want.metadata.name} differs`).toBe(true);
      expect(live.metadata.ownerReferences?.[0]?.uid).toBe(model.metadata.uid);
      const svc = withHash(buildService(parsed, seg));
      expect(isSubset(svc, await getService(svc.metadata.name)), `Service ${svc.metadata.name} differs`).toBe(
        true,
      );
    }
    const standard = await getDeployment('ads-standard');
    expect((standard.spec as { replicas: number }).replicas).toBe(2);
    const containers = (
      standard.spec as {
        template: {
          spec: { containers: { name: string; resources?: { limits?: Record<string, string> } }[] };
        };
      }
    ).template.spec.containers;
    expect(containers.map((c) => c.name)).toEqual(['server', 'sync']);
    expect(containers[0]!.resources?.limits?.['nvidia.com/gpu']).toBe('1');

    // the scheduler put every scoring pod on a GPU node, and kwok runs them
    const pods = (
      await clients().core.listNamespacedPod({ namespace: ns.name, labelSelector: 'lightrank.dev/model=ads' })
    ).items;
    expect(pods).toHaveLength(3);
    const nodes = new Map((await clients().core.listNode()).items.map((n) => [n.metadata!.name!, n]));
    for (const p of pods) {
      expect(p.status?.phase).toBe('Running');
      expect(nodes.get(p.spec!.nodeName!)?.metadata?.labels?.['nvidia.com/gpu.present']).toBe('true');
    }

    // they run as the namespace's shared scoring ServiceAccount, which may post the sync sidecar's Events
    for (const p of pods) expect(p.spec?.serviceAccountName).toBe('lightrank-scoring');
    const as = `system:serviceaccount:${ns.name}:lightrank-scoring`;
    expect((await kubectl('auth', 'can-i', 'create', 'events', '-n', ns.name, '--as', as)).trim()).toBe(
      'yes',
    );

    // status and printer columns
    expect(model.status).toMatchObject({
      phase: 'Ready',
      readySegments: '2/2',
      modelVersion: 'v1,v7',
      observedGeneration: model.metadata.generation,
    });
    const table = await kubectl('get', 'rkm', name, '-n', ns.name);
    expect(table).toMatch(/READY\s+STABLE\s+CANARY\s+STEP\s+PHASE/);
    expect(table).toMatch(/ads\s+2\/2\s+v1,v7/);

    // meaningful Events (written in the background, in order): Ready; a new model's own objects
    // are no news (a Created Event would have been queued in the first pass, before Ready)
    await waitFor('a Ready event', async () => (await modelEvents(name)).some((e) => e.reason === 'Ready'));
    expect((await modelEvents(name)).map((e) => e.reason)).not.toContain('Created');
  });

  it('makes zero API writes when a resync finds nothing changed (audit log)', async () => {
    await new Promise((r) => setTimeout(r, 1500)); // let the last watch events settle
    const since = new Date();
    expect(operator.op.operator.resync()).toBe(1);
    await new Promise((r) => setTimeout(r, 2000));
    const reconciles = (await operator.op.operator.metrics.reconciles.get()).values.reduce(
      (s, v) => s + v.value,
      0,
    );
    expect(reconciles).toBeGreaterThan(0);
    expect(writesSince(since)).toBe(0);
    // the audit filter does see this operator's writes (the count above could not be 0 by accident)
    expect(
      countAuditWrites(clusterInfo().auditLogPath!, { userAgent: userAgentOf(operator.op.identity) }),
    ).toBeGreaterThan(5);
  });

  it('rolls replicas, image and resource changes into the Deployments', async () => {
    await patchSpec(name, {
      segments: [{ ...twoSegmentSpec().segments[0]!, replicas: 3 }, twoSegmentSpec().segments[1]!],
      serving: {
        image: 'registry.test/lightrank-server:2',
        resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '4Gi' } },
      },
    });
    await waitReady(name);
    const d = await getDeployment('ads-standard');
    const spec = d.spec as {
      replicas: number;
      template: {
        spec: { containers: { image: string; resources: { requests: Record<string, string> } }[] };
      };
    };
    expect(spec.replicas).toBe(3);
    expect(spec.template.spec.containers.map((c) => c.image)).toEqual([
      'registry.test/lightrank-server:2',
      'registry.test/lightrank-server:2',
    ]);
    expect(spec.template.spec.containers[0]!.resources.requests).toEqual({ cpu: '1', memory: '2Gi' });
    await waitFor('a Scaled event', async () =>
      (await modelEvents(name)).some(
        (e) => e.reason === 'Scaled' && /standard from 2 to 3/.test(e.message ?? ''),
      ),
    );
  });

  it('undoes a hand edit of an owned Deployment and recreates a deleted one', async () => {
    await kubectl('scale', 'deployment', 'ads-standard', '-n', ns.name, '--replicas=7');
    await kubectl('set', 'image', 'deployment/ads-shopping', '-n', ns.name, 'server=evil/image:6');
    await waitFor('hand edits undone', async () => {
      const std = (await getDeployment('ads-standard')).spec as { replicas: number };
      const shop = (await getDeployment('ads-shopping')).spec as {
        template: { spec: { containers: { image: string }[] } };
      };
      return (
        std.replicas === 3 && shop.template.spec.containers[0]!.image === 'registry.test/lightrank-server:2'
      );
    });
    const before = await getDeployment('ads-shopping');
    await kubectl('delete', 'deployment', 'ads-shopping', '-n', ns.name, '--wait=false');
    await waitFor('ads-shopping recreated', async () => {
      const d = await getDeployment('ads-shopping');
      return d.metadata.uid !== before.metadata.uid;
    });
    await kubectl('delete', 'service', 'ads-standard', '-n', ns.name, '--wait=false');
    await waitFor('Service ads-standard recreated', () => getService('ads-standard'));
    await waitReady(name);
    // recreating what was deleted is news: a Created Event names each
    await waitFor('Created events for the recreated objects', async () => {
      const created = (await modelEvents(name))
        .filter((e) => e.reason === 'Created')
        .map((e) => e.message ?? '');
      const missing = ['Deployment ads-shopping', 'Service ads-standard'].filter(
        (w) => !created.some((m) => m.includes(w)),
      );
      if (missing.length === 0) return true;
      throw new Error(`missing Created for ${missing.join(', ')}; seen ${created.join(' | ')}`);
    });
  });

  it('prunes the objects of a removed segment', async () => {
    await patchSpec(name, { segments: [{ ...twoSegmentSpec().segments[0]!, replicas: 1 }] });
    await waitFor('ads-shopping pruned', async () => {
      const out = await kubectl(
        'get',
        'deployments,services',
        '-n',
        ns.name,
        '-l',
        'lightrank.dev/segment=shopping',
        '-o',
        'name',
      );
      return out.trim() === '';
    });
    const m = await waitReady(name);
    expect(m.status).toMatchObject({ readySegments: '1/1', modelVersion: 'v1' });
  });

  it('leaves everything to the garbage collector when the model is deleted', async () => {
    await custom().deleteNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      name,
    });
    await waitFor(
      'owned objects garbage-collected',
      async () => {
        const out = await kubectl(
          'get',
          'deployments,services,replicasets,pods',
          '-n',
          ns.name,
          '-l',
          'lightrank.dev/model=ads',
          '-o',
          'name',
        );
        if (out.trim() === '') return true;
        throw new Error(`still there: ${out.trim().split('\n').join(', ')}`);
      },
      { timeoutMs: 60_000 },
    );
  });
});
