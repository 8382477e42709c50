// The custom metrics API on the control plane in a box, end to end on real parts: a real scoring
// server process serves ranking requests; a real Prometheus scrapes it, its series labelled with
// the namespace and name of the Pod it stands for (as pod discovery labels them in a cluster; the
// Pod itself runs on a kwok node); prometheus-adapter (built from its Go module) answers
// custom.metrics.k8s.io through the API server's aggregation layer. Given load on the server,
// when a client asks the API server for the pods' lightrank_requests_per_second (what a
// HorizontalPodAutoscaler asks), then the pod's value is the server's request rate.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelConfig } from '../../modelkit/config.js';
import { openSnapshot } from '../../snapshot/index.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import {
  CUSTOM_METRICS_GROUP_VERSION,
  startCustomMetricsApi,
  type CustomMetricsApi,
} from '../harness/custom-metrics.js';
import { createTestNamespace } from '../harness/cluster.js';
import { getJson } from '../harness/raw.js';
import { TOOL_BUILD_TIMEOUT_MS } from '../harness/tools.js';
import { waitFor } from '../harness/wait.js';
import { startPrometheus, type RealPrometheus } from '../prometheus/real-prometheus.js';
import { stageDemo, startServer, type ServerProcess } from '../server/harness.js';

const MODEL = 'ranker';
const POD = 'ranker-standard-0';
let cp: ControlPlane;
let root: string;
let server: ServerProcess;
let prometheus: RealPrometheus;
let metricsApi: CustomMetricsApi;
let namespace: string;
let candidates: string[];

interface MetricValueList {
  items: { describedObject: { kind: string; name: string }; metricName: string; value: string }[];
}

/** Kubernetes quantities as the custom metrics API writes them: "2500m" = 2.5. */
const quantity = (q: string): number =>
  q.endsWith('m')
    ? Number(q.slice(0, -1)) / 1000
    : q.endsWith('u')
      ? Number(q.slice(0, -1)) / 1e6
      : q.endsWith('n')
        ? Number(q.slice(0, -1)) / 1e9
        : Number(q);

beforeAll(async () => {
  cp = await startControlPlane({ gpuNodes: 0, cpuNodes: 1 });
  namespace = await createTestNamespace(cp.kubeConfig.makeApiClient(CoreV1Api), 'custom-metrics');
  // the Pod the series stand for: kwok runs it (Running) on its node
  await cp.kubeConfig.makeApiClient(CoreV1Api).createNamespacedPod({
    namespace,
    body: {
      metadata: { name: POD, labels: { app: 'ranker' } },
      spec: { nodeName: cp.nodes.cpu[0]!, containers: [{ name: 'server', image: 'registry.test/server:1' }] },
    },
  });
  root = await mkdtemp(join(tmpdir(), 'lightrank-custom-metrics-'));
  const staged = await stageDemo(root);
  candidates = Array.from((await openSnapshot(staged.bundle.snapshotDir)).ids.slice(0, 50), String);
  server = await startServer([
    '--data-dir',
    staged.dataDir,
    '--model-name',
    MODEL,
    '--execution-provider',
    'cpu',
  ]);
  await waitFor('server ready', async () => (await server.get('/v2/health/ready')).status === 200);
  prometheus = await startPrometheus([
    { address: `127.0.0.1:${server.port}`, labels: { namespace, pod: POD } },
  ]);
  metricsApi = await startCustomMetricsApi({ cp, prometheusUrl: prometheus.url });
}, TOOL_BUILD_TIMEOUT_MS + 180_000);

afterAll(async () => {
  await metricsApi?.stop();
  await prometheus?.stop();
  await server?.stop();
  await cp?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('the custom metrics API (prometheus-adapter behind the aggregation layer)', () => {
  it("serves a pod's lightrank_requests_per_second from the server's real request rate", async () => {
    const cfg = modelConfig({ seed: 42 }).query;
    const body = {
      query: { dense: Array(cfg.numDense).fill(0.5), categorical: Array(cfg.numCategorical).fill(3) },
      candidates,
    };
    // ~20 requests/s for as long as the check takes (the rate is over 30 s; the adapter relists
    // every 2 s and Prometheus scrapes every second)
    let sent = 0;
    let stopLoad = false;
    const load = (async () => {
      while (!stopLoad) {
        const res = await server.post(`/v1/models/${MODEL}/rank`, body);
        expect(res.status).toBe(200);
        sent++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const started = Date.now();
    try {
      const list = await waitFor(
        'the pod metric with a rate above 1 request/s',
        async () => {
          const l = await getJson<MetricValueList>(
            cp.kubeConfig,
            `/apis/${CUSTOM_METRICS_GROUP_VERSION}/namespaces/${namespace}/pods/*/lightrank_requests_per_second`,
          );
          const v = l.items.find((i) => i.describedObject.name === POD);
          if (v && quantity(v.value) > 1) return l;
          throw new Error(`items: ${JSON.stringify(l.items)}`);
        },
        { timeoutMs: 60_000, intervalMs: 1_000 },
      );
      const item = list.items.find((i) => i.describedObject.name === POD)!;
      expect(item.describedObject.kind).toBe('Pod');
      expect(item.metricName).toBe('lightrank_requests_per_second');
      // no more than what was sent: the rate is the server's own, not a made-up number
      const maxRate = sent / ((Date.now() - started) / 1000) + 25;
      expect(quantity(item.value)).toBeLessThanOrEqual(maxRate);

      // the other two signals a segment can scale on, for the same pod under the same load:
      // requests in flight (Little's law: the closed loop above has at most 1) and the mean wait
      // for a batch (milliseconds: about the batching window of 2 ms at most, with room for a
      // loaded machine)
      for (const [metric, min, max] of [
        ['lightrank_inflight_requests', 0.001, 1.05],
        ['lightrank_queue_delay_milliseconds', 0, 10],
      ] as const) {
        const v = await waitFor(
          `${metric} for the pod`,
          async () => {
            const l = await getJson<MetricValueList>(
              cp.kubeConfig,
              `/apis/${CUSTOM_METRICS_GROUP_VERSION}/namespaces/${namespace}/pods/*/${metric}`,
            );
            const found = l.items.find((i) => i.describedObject.name === POD);
            if (found && quantity(found.value) >= min) return quantity(found.value);
            throw new Error(`items: ${JSON.stringify(l.items)}`);
          },
          { timeoutMs: 30_000, intervalMs: 1_000 },
        );
        expect(v).toBeLessThanOrEqual(max);
      }
    } finally {
      stopLoad = true;
      await load;
    }
  });

  it('lists the metric in the API group discovery, as kubectl and the HPA controller see it', async () => {
    const resources = await getJson<{ resources: { name: string }[] }>(
      cp.kubeConfig,
      `/apis/${CUSTOM_METRICS_GROUP_VERSION}`,
    );
    expect(resources.resources.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        'pods/lightrank_requests_per_second',
        'pods/lightrank_inflight_requests',
        'pods/lightrank_queue_delay_milliseconds',
      ]),
    );
  });
});
