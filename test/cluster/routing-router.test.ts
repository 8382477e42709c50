// The router traffic provider against the control plane in a box: the router table in a
// ConfigMap owned by the RankingModel, parsed with the router's own schema (router/table.ts) and
// consulted the way the router does; the router Deployment (same image, `node dist/router/main.js`,
// table mounted from the ConfigMap) and Service; a canary step shows in the table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTable, selectSegment } from '../../router/table.js';
import { startInProcessOperator, type InProcessOperator } from '../../operator/testing.js';
import { CONFIGMAPS } from '../../operator/traffic/provider.js';
import type { KubeObject } from '../../operator/kube/types.js';
import { clusterInfo, useTestNamespace, waitFor } from '../harness/cluster.js';
import { healthy, startFakePrometheus, type FakePrometheus } from '../prometheus/fake-prometheus.js';
import { IMAGE, Models, condition, rolloutSpec } from './rollout-helpers.js';

const ns = useTestNamespace('routing-router');
let op: InProcessOperator;
let prom: FakePrometheus;
let models: Models;

beforeAll(async () => {
  prom = await startFakePrometheus({ canary: healthy(), stable: healthy() });
  models = new Models(ns.name);
  op = await startInProcessOperator(clusterInfo().kubeconfigPath, ns.name, {
    serverImage: IMAGE,
    sidecarImage: IMAGE,
  });
});
afterAll(async () => {
  await op?.stop();
  await prom?.close();
});

type ConfigMap = KubeObject & { data: Record<string, string> };
const table = async () => {
  const cm = await models.client.get<ConfigMap>(CONFIGMAPS, ns.name, 'ads-router');
  return { cm, table: parseTable(cm.data['table.json']!) };
};

describe('router routing', () => {
  it('writes a table the router accepts, and the router Deployment and Service', async () => {
    const spec = rolloutSpec(prom.url);
    spec.rollout!.steps = [
      { weight: 20, pauseSeconds: 30 },
      { weight: 100, pauseSeconds: 0 },
    ];
    const created = await models.create('ads', spec);
    await models.waitFor('ads', 'Ready', (m) => condition(m, 'Ready')?.status === 'True');
    const { cm, table: t } = await waitFor('router ConfigMap', table);
    expect(cm.metadata.ownerReferences?.[0]).toMatchObject({ uid: created.metadata.uid, controller: true });
    const route = t.models.get('ads')!;
    expect(route.header).toBe('x-lightrank-segment');
    expect(route.defaultSegment.name).toBe('standard');
    const url = (seg: string, track: string) => `http://ads-${seg}-${track}.${ns.name}.svc:8080`;
    expect(route.segments.get('standard')!.backends.map((b) => [b.track, b.url, b.weight])).toEqual([
      ['stable', url('standard', 'stable'), 100],
      ['canary', url('standard', 'canary'), 0],
    ]);
    // the router picks segments as the RankingModel says: by value (aliases too), else the default
    expect(selectSegment(route, 'shop').backends[0]!.url).toBe(url('shopping', 'stable'));
    expect(selectSegment(route, 'shopping').backends[0]!.url).toBe(url('shopping', 'stable'));
    expect(selectSegment(route, undefined).backends[0]!.url).toBe(url('standard', 'stable'));

    const dep = await models.deployment('ads-router');
    const pod = (
      dep!.spec as {
        template: {
          spec: {
            containers: { command: string[]; image: string; volumeMounts: { mountPath: string }[] }[];
            volumes: { configMap?: { name: string } }[];
          };
        };
      }
    ).template.spec;
    expect(pod.containers[0]).toMatchObject({ command: ['node', 'dist/router/main.js'], image: IMAGE });
    expect(pod.containers[0]!.volumeMounts[0]!.mountPath).toBe('/etc/lightrank/router');
    expect(pod.volumes[0]!.configMap?.name).toBe('ads-router');
    const svc = await models.client.get(
      { group: '', version: 'v1', plural: 'services', kind: 'Service' },
      ns.name,
      'ads-router',
    );
    expect(svc.metadata.name).toBe('ads-router');
  });

  it('shows a canary step in the table, only for its segment', async () => {
    await models.setVersion('ads', 'v2');
    await models.waitFor(
      'ads',
      'canary at 20%',
      (m) => m.status?.segments?.find((s) => s.name === 'standard')?.canaryWeight === 20,
    );
    const { table: t } = await table();
    const route = t.models.get('ads')!;
    expect(route.segments.get('standard')!.backends.map((b) => b.weight)).toEqual([80, 20]);
    expect(route.segments.get('shopping')!.backends.map((b) => b.weight)).toEqual([100, 0]);
    expect(t.spec.revision).toMatch(/standard=20/);
  });
});
