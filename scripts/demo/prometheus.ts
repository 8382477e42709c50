// Prometheus for the demo, when the machine has one (`/usr/bin/prometheus`, Debian's package; or
// $LIGHTRANK_PROMETHEUS): it scrapes the real server (and router) processes of the demo
// namespace's pods that carry the `prometheus.io/scrape` annotation. Debian builds Prometheus
// without kubernetes_sd_configs ("field kubernetes_sd_configs not found"), so the demo does the
// pod discovery itself: every 2 s it lists the pods and rewrites a file_sd targets file (pod IPs of
// the local node, 10.250.x.y, become the loopback addresses the processes listen on, 127.250.x.y).
// Runs in the control plane's run directory as a supervised process group (no orphans).
//
// API:
//   findPrometheus() → path | undefined
//   podTargets(kc, namespace) → file_sd target groups
//   startPrometheus({ bin, kubeConfig, namespace, runDir }) → { url, proc, stop() }
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { DEFAULT_POD_NETWORK, localAddressOf } from '../../agent/addresses.js';
import { freePort } from '../../test/harness/ports.js';
import { logTail, spawnComponent, type ManagedProcess } from '../../test/harness/processes.js';
import { waitFor } from '../../test/harness/wait.js';

export function findPrometheus(): string | undefined {
  const candidates = [process.env.LIGHTRANK_PROMETHEUS, '/usr/bin/prometheus'].filter(Boolean) as string[];
  return candidates.find((p) => existsSync(p));
}

export function prometheusConfig(targetsFile: string): string {
  return stringify({
    global: { scrape_interval: '2s', evaluation_interval: '2s' },
    scrape_configs: [
      {
        job_name: 'lightrank-pods',
        file_sd_configs: [{ files: [targetsFile], refresh_interval: '2s' }],
      },
    ],
  });
}

/** The scrape targets of the namespace's annotated, running pods, in file_sd format. */
export async function podTargets(kc: KubeConfig, namespace: string): Promise<unknown[]> {
  const pods = (await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace })).items;
  return pods
    .filter((p) => {
      const a = p.metadata?.annotations ?? {};
      return (
        a['prometheus.io/scrape'] === 'true' &&
        a['prometheus.io/port'] &&
        p.status?.podIP &&
        p.status.phase === 'Running'
      );
    })
    .map((p) => {
      const a = p.metadata!.annotations!;
      const podIp = p.status!.podIP!;
      // pods of the local node listen on the loopback side of their pod IP
      const host = podIp.startsWith(`${DEFAULT_POD_NETWORK}.`) ? localAddressOf(podIp) : podIp;
      return {
        targets: [`${host}:${a['prometheus.io/port']}`],
        labels: {
          namespace,
          pod: p.metadata!.name!,
          ...(a['prometheus.io/path'] ? { __metrics_path__: a['prometheus.io/path'] } : {}),
        },
      };
    });
}

export interface DemoPrometheus {
  url: string;
  proc: ManagedProcess;
  stop(): Promise<void>;
}

export async function startPrometheus(opts: {
  bin: string;
  kubeConfig: KubeConfig;
  namespace: string;
  runDir: string;
}): Promise<DemoPrometheus> {
  const dir = join(opts.runDir, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(opts.runDir, 'logs'), { recursive: true });
  const configPath = join(dir, 'prometheus.yml');
  const targetsFile = join(dir, 'targets.json');
  let lastTargets = '';
  const writeTargets = async (): Promise<void> => {
    const json = JSON.stringify(await podTargets(opts.kubeConfig, opts.namespace), null, 2);
    if (json === lastTargets) return;
    writeFileSync(`${targetsFile}.tmp`, json);
    renameSync(`${targetsFile}.tmp`, targetsFile);
    lastTargets = json;
  };
  await writeTargets();
  const discovery = setInterval(() => void writeTargets().catch(() => {}), 2_000);
  writeFileSync(configPath, prometheusConfig(targetsFile));
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
  const stop = async (): Promise<void> => {
    clearInterval(discovery);
    await proc.stop(5_000);
  };
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
