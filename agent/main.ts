// Entry point of the local node agent: parse flags, start the agent, stop it (and every pod
// process) on SIGINT/SIGTERM.
//   tsx agent/main.ts --kubeconfig PATH [--node-name lightrank-local] [--repo DIR] [--run-dir DIR]
//                     [--gpus N] [--label k=v ...] [--delete-node-on-stop] [--runtime processes|containers]
import { KubeConfig } from '@kubernetes/client-node';
import { parseArgs } from 'node:util';
import { createLogger } from '../lib/logger.js';
import { DEFAULT_NODE_NAME, startNodeAgent } from './agent.js';

const HELP = `usage: agent/main.ts --kubeconfig PATH [options]
  --kubeconfig PATH         cluster to join (default $KUBECONFIG)
  --node-name NAME          Node to register [${DEFAULT_NODE_NAME}]
  --repo DIR                lightrank checkout whose entry points run [this one]
  --run-dir DIR             pod directories: logs and volumes [a new temp dir]
  --gpus N                  advertise N GPUs that are not there (a test double)
  --label KEY=VALUE         extra node label (repeatable)
  --delete-node-on-stop     delete the Node on exit (its pods are then garbage-collected)
  --runtime R               processes (lightrank's entry points from this checkout) or containers
                            (podman, each container from its image) [$LIGHTRANK_AGENT_RUNTIME or processes]`;

const log = createLogger('node-agent');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      'node-name': { type: 'string' },
      repo: { type: 'string' },
      'run-dir': { type: 'string' },
      gpus: { type: 'string' },
      label: { type: 'string', multiple: true },
      'delete-node-on-stop': { type: 'boolean' },
      runtime: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const runtime = values.runtime ?? process.env.LIGHTRANK_AGENT_RUNTIME ?? 'processes';
  if (runtime !== 'processes' && runtime !== 'containers')
    throw new Error(`--runtime ${runtime}: want processes or containers`);
  const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error('no cluster: pass --kubeconfig PATH (or set KUBECONFIG)');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const eq = l.indexOf('=');
    if (eq <= 0) throw new Error(`--label ${l}: want KEY=VALUE`);
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  const gpus = values.gpus === undefined ? undefined : Number(values.gpus);
  if (gpus !== undefined && !(Number.isInteger(gpus) && gpus > 0))
    throw new Error(`--gpus ${values.gpus}: want a positive integer`);
  const agent = await startNodeAgent({
    runtime,
    kubeConfig: kc,
    ...(values['node-name'] ? { nodeName: values['node-name'] } : {}),
    ...(values.repo ? { repo: values.repo } : {}),
    ...(values['run-dir'] ? { runDir: values['run-dir'] } : {}),
    ...(gpus ? { gpuTestDouble: { count: gpus } } : {}),
    labels,
    // the pods' processes (the router's Service resolver) use the agent's own credentials
    podKubeconfig: kubeconfig,
    deleteNodeOnStop: values['delete-node-on-stop'] ?? false,
    log,
  });
  log.info(
    { node: agent.nodeName, runDir: agent.runDir },
    'pod logs go under the run dir (one folder per pod)',
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'stopping the local node agent and its pods');
      agent.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err: err instanceof Error ? err.message : String(err) }, 'stop failed');
          process.exit(1);
        },
      );
    });
  }
}

main().catch((err: unknown) => {
  log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'local node agent failed');
  process.exit(1);
});
