// Prometheus for the demo (built from its Go module by scripts/build-prometheus.sh, or
// $LIGHTRANK_PROMETHEUS): it discovers the demo namespace's pods through `kubernetes_sd_configs`
// against the control plane's API server, the way a Prometheus in a cluster does, and scrapes
// those that carry the `prometheus.io/scrape` annotation on the port of `prometheus.io/port`.
// The local node agent's pods listen on the loopback side of their pod IP (10.250.x.y is served
// on 127.250.x.y), which one relabelling rule maps. Runs in the control plane's run directory as
// a supervised process group (no orphans).
//
// API:
//   prometheusConfig({ kubeconfigPath, namespace }) → prometheus.yml text
//   startPrometheus({ bin, kubeconfigPath, namespace, runDir }) → { url, proc, stop() }
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_POD_NETWORK } from '../../agent/addresses.js';
import { freePort } from '../../test/harness/ports.js';
import { logTail, spawnComponent, type ManagedProcess } from '../../test/harness/processes.js';
import { waitFor } from '../../test/harness/wait.js';

const META = '__meta_kubernetes_pod_';

export function prometheusConfig(opts: { kubeconfigPath: string; namespace: string }): string {
  const podNet = DEFAULT_POD_NETWORK.replaceAll('.', '\\.');
  return stringify({
    global: { scrape_interval: '2s', evaluation_interval: '2s' },
    scrape_configs: [
      {
        job_name: 'lightrank-pods',
        kubernetes_sd_configs: [
          { role: 'pod', kubeconfig_file: opts.kubeconfigPath, namespaces: { names: [opts.namespace] } },
        ],
        relabel_configs: [
          { source_labels: [`${META}annotation_prometheus_io_scrape`], regex: 'true', action: 'keep' },
          { source_labels: [`${META}phase`], regex: 'Running', action: 'keep' },
          // one target per pod (discovery yields one per declared container port)
          {
            source_labels: [`${META}ip`, `${META}annotation_prometheus_io_port`],
            regex: '(.+);(\\d+)',
            replacement: '$1:$2',
            target_label: '__address__',
          },
          // the local node agent's pods are served on the loopback side of their pod IP
          {
            source_labels: ['__address__'],
            regex: `${podNet}\\.(\\d+\\.\\d+):(\\d+)`,
            replacement: `127.${DEFAULT_POD_NETWORK.split('.')[1]}.$1:$2`,
            target_label: '__address__',
          },
          {
            source_labels: [`${META}annotation_prometheus_io_path`],
            regex: '(.+)',
            target_label: '__metrics_path__',
          },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: [`${META}name`], target_label: 'pod' },
        ],
      },
    ],
  });
}

export interface DemoPrometheus {
  url: string;
  proc: ManagedProcess;
  stop(): Promise<void>;
}

export async function startPrometheus(opts: {
  bin: string;
  kubeconfigPath: string;
  namespace: string;
  runDir: string;
}): Promise<DemoPrometheus> {
  const dir = join(opts.runDir, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(opts.runDir, 'logs'), { recursive: true });
  const configPath = join(dir, 'prometheus.yml');
  writeFileSync(configPath, prometheusConfig(opts));
  const port = await freePort();
  const proc = spawnComponent({
    name: 'prometheus',
    bin: opts.bin,
    args: [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=2h',
    ],
    runDir: opts.runDir,
    logPath: join(opts.runDir, 'logs', 'prometheus.log'),
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = (): Promise<void> => proc.stop(5_000);
  try {
    await waitFor('Prometheus ready', async () => (await fetch(`${url}/-/ready`)).ok, {
      timeoutMs: 30_000,
      intervalMs: 300,
      abortIf: () => (proc.isRunning() ? undefined : `prometheus exited: ${logTail(proc.logPath, 5)}`),
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, proc, stop };
}
