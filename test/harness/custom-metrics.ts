// The custom metrics API (custom.metrics.k8s.io/v1beta1) on the control plane in a box, as a
// cluster gets it: prometheus-adapter (built from its Go module by
// scripts/build-prometheus-adapter.sh) runs on loopback, reads a Prometheus, and is registered
// with the API server's aggregation layer by an APIService. Nothing routes Service IPs here, so
// the APIService names an ExternalName Service (`localhost`): the aggregator dials that name at
// the APIService's port, and verifies the adapter's serving certificate (signed by the run's CA)
// for `<service>.<namespace>.svc`, as it would in a cluster.
//
// API:
//   ADAPTER_RULES                                        the metrics the adapter serves
//   startCustomMetricsApi({ cp, prometheusUrl }) → { stop() }   resolves once the APIService is Available
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ADAPTER_RULES } from '../../operator/autoscaling/metrics.js';
import type { ControlPlane } from './control-plane.js';
import { makeServingCert } from './pki.js';
import { freePort } from './ports.js';
import { logTail, spawnComponent } from './processes.js';
import { getJson, serverSideApply } from './raw.js';
import { buildTool } from './tools.js';
import { waitFor } from './wait.js';

export const CUSTOM_METRICS_GROUP_VERSION = 'custom.metrics.k8s.io/v1beta1';
const SERVICE = { namespace: 'kube-system', name: 'lightrank-custom-metrics' };

/**
 * What the adapter serves: the operator's rules (operator/autoscaling/metrics.ts), per pod
 * `lightrank_requests_per_second`, `lightrank_inflight_requests` and
 * `lightrank_queue_delay_milliseconds`. Series are tied to pods by their `namespace` and `pod` labels,
 * which a Prometheus in a cluster sets from pod discovery.
 */
export { ADAPTER_RULES };

export interface CustomMetricsApi {
  stop(): Promise<void>;
}

export async function startCustomMetricsApi(opts: {
  cp: ControlPlane;
  prometheusUrl: string;
}): Promise<CustomMetricsApi> {
  const { cp } = opts;
  const bin = join(await buildTool('build-prometheus-adapter.sh'), 'prometheus-adapter');
  const dir = join(cp.runDir, 'prometheus-adapter');
  mkdirSync(dir, { recursive: true });
  const serving = await makeServingCert(dir, cp.pki.ca, 'serving', [
    `${SERVICE.name}.${SERVICE.namespace}.svc`,
    'localhost',
    '127.0.0.1',
  ]);
  const config = join(dir, 'rules.yaml');
  writeFileSync(config, stringify(ADAPTER_RULES, { aliasDuplicateObjects: false, lineWidth: 0 }));
  const port = await freePort();
  const proc = spawnComponent({
    name: 'prometheus-adapter',
    bin,
    args: [
      `--prometheus-url=${opts.prometheusUrl}`,
      `--config=${config}`,
      '--metrics-relist-interval=2s',
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--tls-cert-file=${serving.cert}`,
      `--tls-private-key-file=${serving.key}`,
      `--cert-dir=${dir}`,
      `--lister-kubeconfig=${cp.kubeconfigPath}`,
      `--authentication-kubeconfig=${cp.kubeconfigPath}`,
      `--authorization-kubeconfig=${cp.kubeconfigPath}`,
      '--v=1',
    ],
    runDir: cp.runDir,
    logPath: join(cp.runDir, 'logs', 'prometheus-adapter.log'),
  });
  const stop = (): Promise<void> => proc.stop(5_000);
  try {
    await serverSideApply(
      cp.kubeConfig,
      `/api/v1/namespaces/${SERVICE.namespace}/services/${SERVICE.name}`,
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: SERVICE,
        spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'https', port }] },
      },
      'lightrank-harness',
    );
    await serverSideApply(
      cp.kubeConfig,
      '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.custom.metrics.k8s.io',
      {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: 'v1beta1.custom.metrics.k8s.io' },
        spec: {
          group: 'custom.metrics.k8s.io',
          version: 'v1beta1',
          service: { ...SERVICE, port },
          caBundle: readFileSync(cp.pki.ca.cert).toString('base64'),
          groupPriorityMinimum: 100,
          versionPriority: 100,
        },
      },
      'lightrank-harness',
    );
    await waitFor(
      'the custom metrics APIService Available',
      async () => {
        const svc = await getJson<{
          status?: { conditions?: { type: string; status: string; message?: string }[] };
        }>(cp.kubeConfig, '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.custom.metrics.k8s.io');
        const available = svc.status?.conditions?.find((c) => c.type === 'Available');
        if (available?.status === 'True') return true;
        throw new Error(`Available: ${available?.status ?? 'unknown'} (${available?.message ?? ''})`);
      },
      {
        timeoutMs: 60_000,
        intervalMs: 500,
        abortIf: () =>
          proc.isRunning() ? undefined : `prometheus-adapter exited: ${logTail(proc.logPath, 8)}`,
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}
