// `npm run demo`: the interim demo. Builds (or reuses) the control plane in a box, starts it,
// shows its fake GPU and CPU nodes, leaves a kubeconfig to try, and tears everything down on
// Ctrl-C. Each step is a function; the full demo (operator, RankingModel, rollout) grows here.
import type { V1Node } from '@kubernetes/client-node';
import { CoreV1Api } from '@kubernetes/client-node';
import { parseArgs } from 'node:util';
import { ensureBinaries, type ControlPlaneBinaries } from '../test/harness/binaries.js';
import { startControlPlane, type ControlPlane } from '../test/harness/control-plane.js';
import { GPU_RESOURCE } from '../test/harness/nodes.js';

const USAGE = `usage: npm run demo -- [options]
  --gpu-nodes N     fake GPU nodes (default 2)
  --gpus-per-node N GPUs each (default 8)
  --cpu-nodes N     fake CPU-only nodes (default 2)
  --keep            keep the run directory (logs, certificates, etcd data) after Ctrl-C
  --no-wait         stop right after showing the cluster instead of waiting for Ctrl-C
  -h, --help        this text`;

interface DemoOptions {
  gpuNodes: number;
  gpusPerNode: number;
  cpuNodes: number;
  keep: boolean;
  wait: boolean;
}

const say = (line = ''): void => void process.stdout.write(`${line}\n`);
const heading = (n: number, title: string): void => say(`\n== ${n}. ${title}`);

function parseOptions(argv: string[]): DemoOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      'gpu-nodes': { type: 'string', default: '2' },
      'gpus-per-node': { type: 'string', default: '8' },
      'cpu-nodes': { type: 'string', default: '2' },
      keep: { type: 'boolean', default: false },
      'no-wait': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const count = (flag: 'gpu-nodes' | 'gpus-per-node' | 'cpu-nodes'): number => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < 0 || n > 100)
      throw new Error(`--${flag} must be an integer 0..100, got "${values[flag]}"`);
    return n;
  };
  return {
    gpuNodes: count('gpu-nodes'),
    gpusPerNode: count('gpus-per-node'),
    cpuNodes: count('cpu-nodes'),
    keep: values.keep,
    wait: !values['no-wait'],
  };
}

async function stepBuild(): Promise<ControlPlaneBinaries> {
  heading(1, 'Build (or reuse) etcd, Kubernetes and kwok from their Go modules');
  const t0 = Date.now();
  const binaries = await ensureBinaries();
  say(`binaries in ${binaries.cacheDir} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  return binaries;
}

async function stepStart(opts: DemoOptions): Promise<ControlPlane> {
  heading(2, 'Start the control plane on 127.0.0.1');
  return startControlPlane({
    gpuNodes: opts.gpuNodes,
    gpusPerNode: opts.gpusPerNode,
    cpuNodes: opts.cpuNodes,
    keepRunDir: opts.keep,
    onProgress: (m) => say(`  ${m}`),
  });
}

async function stepShowNodes(cp: ControlPlane): Promise<void> {
  heading(3, 'Nodes (simulated by kwok)');
  const nodes = (await cp.kubeConfig.makeApiClient(CoreV1Api).listNode()).items;
  const rows = [['NAME', 'STATUS', 'GPU PRODUCT', 'GPUS', 'CPU', 'MEMORY', 'TAINTS']];
  for (const n of nodes) rows.push(nodeRow(n));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    say(
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
}

function nodeRow(n: V1Node): string[] {
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  return [
    n.metadata?.name ?? '?',
    ready ? 'Ready' : 'NotReady',
    n.metadata?.labels?.['nvidia.com/gpu.product'] ?? '-',
    n.status?.allocatable?.[GPU_RESOURCE] ?? '0',
    n.status?.allocatable?.cpu ?? '?',
    n.status?.allocatable?.memory ?? '?',
    (n.spec?.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(',') || '-',
  ];
}

function stepHowToUse(cp: ControlPlane): void {
  heading(4, 'Use it');
  say(`API server:  ${cp.serverUrl}`);
  say(`kubeconfig:  ${cp.kubeconfigPath}`);
  say(`audit log:   ${cp.auditLogPath}   (write requests, one JSON line each)`);
  say(`logs:        ${cp.runDir}/logs/`);
  say(
    `pids:        ${Object.entries(cp.pids())
      .map(([c, p]) => `${c}=${p}`)
      .join(' ')}`,
  );
  say('\nTry, in another terminal:');
  say(`  ${cp.binaries.kubectl} --kubeconfig ${cp.kubeconfigPath} get nodes -L nvidia.com/gpu.product`);
  say(`  export KUBECONFIG=${cp.kubeconfigPath}   # for any kubectl or client`);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (!opts) return say(USAGE);

  // Ctrl-C before the control plane is up: exit now; the harness's exit hook kills what started.
  const state: { cp?: ControlPlane; stopping: boolean } = { stopping: false };
  const onSignal = (): void => {
    const cp = state.cp;
    if (!cp || state.stopping) process.exit(130);
    state.stopping = true;
    say('\nstopping the control plane...');
    void cp.stop().then(
      () => {
        say(opts.keep ? `stopped; run directory kept at ${cp.runDir}` : 'stopped; nothing left running');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  await stepBuild();
  const cp = await stepStart(opts);
  state.cp = cp;
  await stepShowNodes(cp);
  stepHowToUse(cp);
  if (!opts.wait) {
    state.stopping = true;
    await cp.stop();
    say('\nstopped (--no-wait)');
    return;
  }
  say('\nRunning. Press Ctrl-C to stop and clean up.');
  // Keep the process alive: the harness unrefs its children so a forgotten one never pins node.
  setInterval(() => {}, 1 << 30);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
