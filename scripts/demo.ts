// `npm run demo`: lightrank end to end on one machine, every part real. Builds (or reuses) the
// control plane in a box and starts it, installs the CRD, runs the operator, starts the local node
// agent (pods bound to its node run as local processes on their own loopback addresses; kwok keeps
// the other nodes simulated), builds real two-tower models and snapshots and serves them from a
// local HTTP storage server, applies the standard + shopping example adapted to the local node,
// sends ranking traffic through the router Deployment the operator created and prints scores for
// both segments, then publishes a new model version and follows the canary step by step until
// promotion. Ctrl-C tears everything down; `--keep` leaves it running at the end. Each step is a
// function; docs/demo.md tells the story and the timings.
//
// `--containers` runs every lightrank part from the images built from the repo's Dockerfiles: the
// operator installed by the Helm chart (its values name the built images), and the agent runs
// every pod (operator, scoring pods, routers) as a podman pod whose IP is its container's; the
// storage server and Prometheus stay on this machine and reach the pods through the agent's
// forwarding at the podman gateway (scripts/demo/containers.ts).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { startNodeAgent, type AgentRuntime, type NodeAgent } from '../agent/agent.js';
import { createLogger } from '../lib/logger.js';
import { ensureBinaries } from '../test/harness/binaries.js';
import { startControlPlane, type ControlPlane } from '../test/harness/control-plane.js';
import { applyManifests, readManifests } from '../test/harness/manifests.js';
import { GPU_RESOURCE } from '../test/harness/nodes.js';
import { spawnComponent } from '../test/harness/processes.js';
import { prometheusBinary } from '../test/harness/tools.js';
import { serverSideApply } from '../test/harness/raw.js';
import { waitFor } from '../test/harness/wait.js';
import { buildImages, helmInstall, inForce, operatorValues, type DemoImages } from './demo/containers.js';
import { demoRankingModel, newModelVersion } from './demo/model.js';
import { startPrometheus } from './demo/prometheus.js';
import { followRollout, readStatus } from './demo/rollout.js';
import { LOCAL_ADDRESS_MAP, patchRouterDeployment, prepareRouterAccess } from './demo/router-local.js';
import { Teardown, say, seconds, step, table, elapsedSinceStart } from './demo/steps.js';
import { buildDemoStorage, serveDirectory, type DemoStorage } from './demo/storage.js';
import { CANDIDATES, DemoClient, type RankResult } from './demo/traffic.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const NAMESPACE = 'lightrank-demo';
const MODEL = 'ads-ranker';
const ROUTER = `${MODEL}-router`;
const NODE_NAME = 'lightrank-local';
const OPERATOR_NAMESPACE = 'lightrank-system';
const RELEASE = 'lightrank';
/** background load during the rollout: enough that a 20% canary serves the analysis' minimum samples */
const LOAD_RPS = 120;

const USAGE = `usage: npm run demo -- [options]
  --containers        run every lightrank part as a container from the images built from the
                      repo's Dockerfiles (podman): the operator installed by the Helm chart, the
                      pods run by the local node agent as podman pods
  --keep              leave everything running at the end (prints the kubeconfig); Ctrl-C stops it
  --step-seconds N    pause of each canary step (default 20)
  --no-prometheus     run the canary without analysis (and without building Prometheus)
  --gpu-nodes N       simulated (kwok) GPU nodes (default 2)
  --gpus-per-node N   GPUs each (default 8)
  --cpu-nodes N       simulated (kwok) CPU nodes (default 0: the router pods, which select no
                      node, must land on the local node to run)
  -h, --help          this text`;

interface DemoOptions {
  containers: boolean;
  keep: boolean;
  stepSeconds: number;
  prometheus: boolean;
  gpuNodes: number;
  gpusPerNode: number;
  cpuNodes: number;
}

function parseOptions(argv: string[]): DemoOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      containers: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'step-seconds': { type: 'string', default: '20' },
      'no-prometheus': { type: 'boolean', default: false },
      'gpu-nodes': { type: 'string', default: '2' },
      'gpus-per-node': { type: 'string', default: '8' },
      'cpu-nodes': { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const count = (flag: 'gpu-nodes' | 'gpus-per-node' | 'cpu-nodes' | 'step-seconds', max: number): number => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < 0 || n > max)
      throw new Error(`--${flag} must be an integer 0..${max}, got "${values[flag]}"`);
    return n;
  };
  return {
    containers: values.containers,
    keep: values.keep,
    stepSeconds: count('step-seconds', 3600),
    prometheus: !values['no-prometheus'],
    gpuNodes: count('gpu-nodes', 100),
    gpusPerNode: count('gpus-per-node', 100),
    cpuNodes: count('cpu-nodes', 100),
  };
}

// --- steps

async function stepControlPlane(opts: DemoOptions, teardown: Teardown): Promise<ControlPlane> {
  await step('Build (or reuse) etcd, Kubernetes and kwok from their Go modules', async () => {
    const binaries = await ensureBinaries();
    say(`   binaries in ${binaries.cacheDir}`);
  });
  return step('Start the control plane on 127.0.0.1 (kwok simulates the GPU nodes)', async () => {
    const cp = await startControlPlane({
      gpuNodes: opts.gpuNodes,
      gpusPerNode: opts.gpusPerNode,
      cpuNodes: opts.cpuNodes,
      keepRunDir: opts.keep,
      quietBuild: true,
      onProgress: (m) => say(`   ${m}`),
    });
    teardown.add(
      'the control plane',
      () => cp.stop(),
      () => Object.values(cp.pids()).filter((p): p is number => p !== undefined),
    );
    say(`   API server ${cp.serverUrl}; kubeconfig ${cp.kubeconfigPath}`);
    return cp;
  });
}

async function stepInstallCrd(cp: ControlPlane, opts: DemoOptions): Promise<void> {
  const title = opts.containers
    ? 'Create the demo namespace (the CRD comes with the Helm chart)'
    : 'Install the RankingModel CRD (crds/, applied as raw JSON)';
  await step(title, async () => {
    if (!opts.containers) {
      const crds = await applyManifests(cp.kubeConfig, readManifests(join(REPO, 'crds')));
      say(`   established: ${crds.join(', ')}`);
    }
    await serverSideApply(
      cp.kubeConfig,
      `/api/v1/namespaces/${NAMESPACE}`,
      // Pod Security `restricted` enforced, as platform clusters do: the operator's pods must pass it
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: NAMESPACE, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
      },
      'lightrank-demo',
    );
    await waitFor('the demo namespace default ServiceAccount', () =>
      cp.kubeConfig
        .makeApiClient(CoreV1Api)
        .readNamespacedServiceAccount({ name: 'default', namespace: NAMESPACE })
        .then(() => true),
    );
    const ns = await cp.kubeConfig.makeApiClient(CoreV1Api).readNamespace({ name: NAMESPACE });
    const enforce = ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'] ?? 'none';
    say(`   namespace ${NAMESPACE} (Pod Security: ${enforce} enforced)`);
  });
}

/** Throws when the operator is gone (the process exited, or its pod is failing). */
type OperatorCheck = () => Promise<void>;

async function stepOperator(cp: ControlPlane, teardown: Teardown): Promise<OperatorCheck> {
  return step('Run the operator (operator/main.ts as a local process)', async () => {
    const logPath = join(cp.runDir, 'logs', 'operator.log');
    const proc = spawnComponent({
      name: 'operator',
      bin: process.execPath,
      args: [
        '--import',
        import.meta.resolve('tsx'),
        join(REPO, 'operator', 'main.ts'),
        '--kubeconfig',
        cp.kubeconfigPath,
        '--leader-election',
        'false',
        '--port',
        '0',
        '--bind-address',
        '127.0.0.1',
      ],
      runDir: cp.runDir,
      logPath,
    });
    teardown.add(
      'the operator',
      () => proc.stop(10_000),
      () => (proc.isRunning() ? [proc.pid] : []),
    );
    say(`   pid ${proc.pid}; log ${logPath}`);
    return async (): Promise<void> => {
      if (!proc.isRunning()) throw new Error(`the operator exited; see ${proc.logPath}`);
    };
  });
}

async function stepImages(): Promise<DemoImages> {
  return step('Build (or reuse) the images from the repo Dockerfiles (podman)', async () => {
    const images = await buildImages((line) => {
      // the scripts' own progress lines; podman's build output goes unshown
      if (/^\[(images|podman) \d/.test(line)) say(`   ${line}`);
    });
    say(`   server/sidecar/router: ${images.server}`);
    say(`   operator:              ${images.operator}`);
    return images;
  });
}

async function stepHelmOperator(cp: ControlPlane, images: DemoImages): Promise<OperatorCheck> {
  return step(
    `Install the operator with Helm (charts/lightrank, image ${images.operator}) into ${OPERATOR_NAMESPACE}`,
    async () => {
      const values = operatorValues({ images, nodeName: NODE_NAME });
      const { helm } = await helmInstall({
        kubeconfigPath: cp.kubeconfigPath,
        values,
        runDir: cp.runDir,
        namespace: OPERATOR_NAMESPACE,
        release: RELEASE,
      });
      say(
        `   ${helm} install ${RELEASE} charts/lightrank -n ${OPERATOR_NAMESPACE} -f ${join(cp.runDir, 'helm', 'values.yaml')}`,
      );
      say(
        `   values: image ${images.operator}, scoringImages ${images.server}, pullPolicy Never, nodeSelector kubernetes.io/hostname=${NODE_NAME}`,
      );
      const core = cp.kubeConfig.makeApiClient(CoreV1Api);
      const pod = await waitFor(
        'the operator pod Ready (a container on the local node)',
        async () => {
          const pods = await core.listNamespacedPod({
            namespace: OPERATOR_NAMESPACE,
            labelSelector: 'app.kubernetes.io/name=lightrank',
          });
          return pods.items.find(isReady);
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      say(
        `   pod ${pod.metadata?.name} Ready on ${pod.spec?.nodeName}, pod IP ${pod.status?.podIP} (container ${pod.status?.containerStatuses?.[0]?.containerID})`,
      );
      const logDir = pod.metadata?.annotations?.['lightrank.dev/local-log-dir'];
      if (logDir) say(`   log ${logDir}/operator.log`);
      return async (): Promise<void> => {
        const pods = await core.listNamespacedPod({
          namespace: OPERATOR_NAMESPACE,
          labelSelector: 'app.kubernetes.io/name=lightrank',
        });
        const crashing = pods.items
          .flatMap((p) => p.status?.containerStatuses ?? [])
          .find((c) => c.state?.waiting?.reason === 'CrashLoopBackOff');
        if (crashing)
          throw new Error(
            `the operator container is crash-looping: ${crashing.state?.waiting?.message ?? ''}`,
          );
      };
    },
  );
}

async function stepAgent(cp: ControlPlane, teardown: Teardown, runtime: AgentRuntime): Promise<NodeAgent> {
  const how = runtime === 'containers' ? 'podman pods from their images' : 'local processes';
  return step(`Start the local node agent (node ${NODE_NAME}: its pods run as ${how})`, async () => {
    const runDir = join(cp.runDir, 'node-agent');
    mkdirSync(runDir, { recursive: true });
    const agent = await startNodeAgent({
      kubeConfig: cp.kubeConfig,
      nodeName: NODE_NAME,
      runDir,
      // Named as what it is: the node advertises GPUs it does not have, so the example's GPU
      // scheduling applies; the servers' CUDA provider falls back to CPU (a log line says so).
      gpuTestDouble: { count: 4 },
      deleteNodeOnStop: true,
      runtime,
      log: createLogger('node-agent', { level: 'warn' }),
    });
    teardown.add(
      'the node agent and its pods',
      () => agent.stop(),
      () => agent.pods().flatMap((p) => Object.values(p.pids).filter((x): x is number => x !== undefined)),
    );
    // Ready, and the node lifecycle controller's not-ready taint gone, so the scheduler uses it
    const node = await waitFor(
      `node ${NODE_NAME} Ready without node.kubernetes.io taints`,
      async () => {
        const n = await cp.kubeConfig.makeApiClient(CoreV1Api).readNode({ name: NODE_NAME });
        const ready = n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        const tainted = (n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
        return ready && !tainted ? n : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const labels = node.metadata?.labels ?? {};
    const podIps =
      runtime === 'containers'
        ? `pod IPs: the containers' own on podman's network (API server at ${await agent.exposeToPods(Number(new URL(cp.serverUrl).port))} for the pods)`
        : `pod IPs ${LOCAL_ADDRESS_MAP.replace('=', ' → ')}`;
    say(
      `   node ${NODE_NAME}: ${GPU_RESOURCE}=${node.status?.allocatable?.[GPU_RESOURCE] ?? 0} (test double, product ${labels['nvidia.com/gpu.product']}), ${podIps}`,
    );
    say(`   pod logs under ${runDir}`);
    await nodesTable(cp.kubeConfig);
    return agent;
  });
}

async function stepStorage(
  cp: ControlPlane,
  teardown: Teardown,
  agent: NodeAgent,
): Promise<{ storage: DemoStorage; url: string }> {
  return step(
    'Build models and snapshots (model kit) and serve them from a local storage server',
    async () => {
      const storage = await buildDemoStorage(join(cp.runDir, 'storage'));
      const server = await serveDirectory(storage.root);
      teardown.add('the storage server', () => server.close());
      const rows = [['SEGMENT', 'VERSION', 'QUERY TOWER', 'SHA256', 'SNAPSHOT']];
      rows.push([
        'standard',
        'v1',
        storage.standard.v1.path,
        storage.standard.v1.sha256.slice(0, 12),
        storage.standard.snapshotPrefix,
      ]);
      rows.push([
        'standard',
        'v2',
        storage.standard.v2.path,
        storage.standard.v2.sha256.slice(0, 12),
        '(same item tower)',
      ]);
      rows.push([
        'shopping',
        'v1',
        storage.shopping.v1.path,
        storage.shopping.v1.sha256.slice(0, 12),
        storage.shopping.snapshotPrefix,
      ]);
      table(rows);
      say(`   storage: ${server.url}/ (files in ${storage.root})`);
      const url = `http://${await agent.exposeToPods(Number(new URL(server.url).port))}`;
      if (url !== server.url) say(`   the sync sidecars fetch it at ${url} (forwarded by the agent)`);
      return { storage, url };
    },
  );
}

async function stepPrometheus(
  opts: DemoOptions,
  cp: ControlPlane,
  teardown: Teardown,
  agent: NodeAgent,
): Promise<string | undefined> {
  return step('Prometheus (discovers and scrapes the scoring pods for the canary analysis)', async () => {
    if (!opts.prometheus) {
      say('   --no-prometheus: the canary runs WITHOUT analysis');
      return undefined;
    }
    // built from its Go module into the cache on the first run (minutes), reused after
    const bin = await prometheusBinary();
    const prom = await startPrometheus({
      bin,
      kubeconfigPath: cp.kubeconfigPath,
      namespace: NAMESPACE,
      runDir: cp.runDir,
    });
    teardown.add(
      'Prometheus',
      () => prom.stop(),
      () => (prom.proc.isRunning() ? [prom.proc.pid] : []),
    );
    say(
      `   ${bin} on ${prom.url} (kubernetes_sd_configs: the annotated pods of ${NAMESPACE}; log ${prom.proc.logPath})`,
    );
    // the operator queries it from where it runs: a container reaches it through the agent
    const url = `http://${await agent.exposeToPods(Number(new URL(prom.url).port))}`;
    if (url !== prom.url)
      say(`   the operator's canary analysis queries it at ${url} (forwarded by the agent)`);
    return url;
  });
}

async function stepApplyModel(
  opts: DemoOptions,
  cp: ControlPlane,
  storage: DemoStorage,
  storageUrl: string,
  prometheusUrl: string | undefined,
): Promise<void> {
  await step(
    'Apply the standard + shopping RankingModel (examples/standard-shopping-gpu.yaml, adapted)',
    async () => {
      const manifest = demoRankingModel({
        namespace: NAMESPACE,
        storage,
        storageUrl,
        nodeName: NODE_NAME,
        stepSeconds: opts.stepSeconds,
        ...(prometheusUrl ? { prometheusUrl } : {}),
      });
      say('   adapted: model/snapshot URIs on the local storage, 1 replica per segment, nodeSelector');
      say(
        `   kubernetes.io/hostname=${NODE_NAME} + the GPU test double, small requests, canary steps of ${opts.stepSeconds} s`,
      );
      await serverSideApply(
        cp.kubeConfig,
        `/apis/lightrank.dev/v1alpha1/namespaces/${NAMESPACE}/rankingmodels/${MODEL}`,
        manifest,
        'lightrank-demo',
      );
      say(`   rankingmodel.lightrank.dev/${MODEL} applied in ${NAMESPACE}`);
    },
  );
}

async function stepRouter(cp: ControlPlane, opts: DemoOptions): Promise<void> {
  await step('Router: resolve backends by EndpointSlices (no cluster DNS or kube-proxy here)', async () => {
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const dep = await waitFor(
      `the router Deployment ${NAMESPACE}/${ROUTER} (created by the operator)`,
      () => apps.readNamespacedDeployment({ name: ROUTER, namespace: NAMESPACE }),
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const env = dep.spec?.template.spec?.containers.find((c) => c.name === 'router')?.env ?? [];
    if (!env.some((e) => e.name === 'LIGHTRANK_ROUTER_RESOLVER' && e.value === 'kubernetes'))
      throw new Error(
        `the operator's router Deployment lacks LIGHTRANK_ROUTER_RESOLVER=kubernetes: its router pods could not reach the scoring Services here (no cluster DNS or kube-proxy)`,
      );
    const serviceAccount = dep.spec?.template.spec?.serviceAccountName ?? 'default';
    say(
      `   the operator set LIGHTRANK_ROUTER_RESOLVER=kubernetes; the router runs as ServiceAccount ${serviceAccount}`,
    );
    if (opts.containers) {
      say(
        '   containers: the router pods use their projected ServiceAccount token (in-cluster config) and dial the pod IPs as they are: nothing added',
      );
      return;
    }
    const kubeconfig = await prepareRouterAccess(
      cp.kubeConfig,
      NAMESPACE,
      serviceAccount,
      join(cp.runDir, 'node-agent'),
    );
    await patchRouterDeployment(cp.kubeConfig, NAMESPACE, ROUTER, {
      LIGHTRANK_ROUTER_KUBECONFIG: kubeconfig,
      LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP: LOCAL_ADDRESS_MAP,
    });
    say(
      '   added to the router Deployment (field manager lightrank-demo): ' +
        `LIGHTRANK_ROUTER_KUBECONFIG (a token of ${serviceAccount}: the agent mounts no projected token, so RBAC is the operator's Role), ` +
        `LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP=${LOCAL_ADDRESS_MAP}`,
    );
  });
}

async function nodesTable(kc: KubeConfig): Promise<void> {
  const nodes = (await kc.makeApiClient(CoreV1Api).listNode()).items;
  const rows = [['NODE', 'RUN BY', 'READY', 'GPU PRODUCT', 'GPUS', 'TAINTS']];
  for (const n of nodes) {
    const labels = n.metadata?.labels ?? {};
    rows.push([
      n.metadata?.name ?? '?',
      labels['lightrank.dev/local-node-agent'] === 'true' ? 'local node agent' : 'kwok (simulated)',
      n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady',
      labels['nvidia.com/gpu.product'] ?? '-',
      n.status?.allocatable?.[GPU_RESOURCE] ?? '0',
      (n.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).join(',') || '-',
    ]);
  }
  table(rows);
}

function isReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

async function podsTable(kc: KubeConfig): Promise<void> {
  const pods = (await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NAMESPACE })).items;
  const rows = [['POD', 'NODE', 'POD IP', 'READY', 'RESTARTS']];
  for (const p of pods.sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1))) {
    const cs = p.status?.containerStatuses ?? [];
    rows.push([
      p.metadata!.name!,
      p.spec?.nodeName ?? '-',
      p.status?.podIP ?? '-',
      `${cs.filter((c) => c.ready).length}/${p.spec?.containers.length ?? 0}`,
      String(cs.reduce((n, c) => n + (c.restartCount ?? 0), 0)),
    ]);
  }
  table(rows);
}

async function stepWaitReady(cp: ControlPlane, operatorCheck: OperatorCheck): Promise<void> {
  await step(
    'Wait for the scoring pods (server + sync sidecar) and the router pods to be Ready',
    async () => {
      const core = cp.kubeConfig.makeApiClient(CoreV1Api);
      const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
      let lastReport = '';
      await waitFor(
        'every Deployment of the RankingModel rolled out and Ready',
        async () => {
          await operatorCheck();
          const deps = (await apps.listNamespacedDeployment({ namespace: NAMESPACE })).items;
          const pods = (await core.listNamespacedPod({ namespace: NAMESPACE })).items;
          const done = deps.filter(
            (d) =>
              (d.status?.updatedReplicas ?? 0) === (d.spec?.replicas ?? 1) &&
              (d.status?.readyReplicas ?? 0) === (d.spec?.replicas ?? 1) &&
              (d.status?.replicas ?? 0) === (d.spec?.replicas ?? 1),
          );
          const report = `${done.length}/${deps.length} Deployments ready; pods ready ${pods.filter(isReady).length}/${pods.length}`;
          if (report !== lastReport) say(`   ${report}`);
          lastReport = report;
          return deps.length >= 3 && done.length === deps.length;
        },
        { timeoutMs: 240_000, intervalMs: 1_000 },
      );
      await podsTable(cp.kubeConfig);
      const status = await readStatus(cp.kubeConfig, NAMESPACE, MODEL);
      say(
        `   RankingModel: phase ${status.phase ?? '-'}, segments ready ${status.readySegments ?? '-'}, model ${status.modelVersion ?? '-'}`,
      );
    },
  );
}

/**
 * Container mode: what each pod's securityContext and volumes put in force, read by a process
 * started in every container (`podman exec`): user, root mount, /tmp, capabilities,
 * no_new_privs, seccomp. One machine-readable `IN FORCE` line per container.
 */
async function stepInForce(cp: ControlPlane): Promise<void> {
  await step('Check what the pod specs put in force, from inside each container (its /proc)', async () => {
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const rows = [['POD/CONTAINER', 'UID:GID', 'ROOT FS', '/TMP', 'CAPS', 'NO_NEW_PRIVS', 'SECCOMP']];
    const lines: string[] = [];
    for (const namespace of [OPERATOR_NAMESPACE, NAMESPACE]) {
      const pods = (await core.listNamespacedPod({ namespace })).items.filter(isReady);
      for (const p of pods.sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1))) {
        for (const c of p.status?.containerStatuses ?? []) {
          const id = /^podman:\/\/(\w+)$/.exec(c.containerID ?? '')?.[1];
          if (!id)
            throw new Error(`${p.metadata?.name}/${c.name}: not a podman container (${c.containerID})`);
          const f = await inForce(id);
          const name = `${p.metadata!.name}/${c.name}`;
          rows.push([name, `${f.uid}:${f.gid}`, f.root, f.tmp, f.capEff, f.noNewPrivs, f.seccomp]);
          lines.push(
            `   IN FORCE ${name} uid=${f.uid} root=${f.root} tmp=${f.tmp} capEff=${f.capEff} noNewPrivs=${f.noNewPrivs} seccomp=${f.seccomp}`,
          );
        }
      }
    }
    table(rows);
    for (const l of lines) say(l);
  });
}

function scoreRows(results: RankResult[]): string[][] {
  const rows = [['SEGMENT', 'TRACK', 'MODEL', 'SNAPSHOT', 'CANDIDATE', 'CTR', 'GOOD_CLICK']];
  for (const r of results) {
    if (r.status !== 200 || !r.scores) {
      rows.push([r.segment, r.track || '-', '-', '-', '-', `HTTP ${r.status}`, (r.error ?? '').slice(0, 80)]);
      continue;
    }
    r.candidates
      .slice(0, 3)
      .forEach((id, i) =>
        rows.push([
          i === 0 ? r.segment : '',
          i === 0 ? r.track : '',
          i === 0 ? (r.modelVersion ?? '?') : '',
          i === 0 ? (r.snapshotVersion ?? '?') : '',
          id,
          (r.scores!.ctr?.[i] ?? NaN).toFixed(4),
          (r.scores!.good_click?.[i] ?? NaN).toFixed(4),
        ]),
      );
  }
  return rows;
}

/**
 * Scores one request per segment through the router, retried (up to 60 s) until both answer 200 on
 * the stable track with the `standard` model version expected: the routers may still be taking
 * their first table or endpoints, or, after a promotion, the table without the canary.
 */
async function stepScores(client: DemoClient, title: string, standardVersion: string): Promise<RankResult[]> {
  return step(title, async () => {
    const settled = (r: RankResult[]): boolean =>
      r.every((x) => x.status === 200 && x.track === 'stable') && r[0]!.modelVersion === standardVersion;
    const send = async (): Promise<RankResult[]> => [
      await client.rank('standard'),
      await client.rank('shopping'),
    ];
    const results = await waitFor(
      `both segments answered by their stable track, standard on ${standardVersion}`,
      async () => {
        const r = await send();
        return settled(r) ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1_000 },
    ).catch(send);
    say(
      `   POST /v1/models/${MODEL}/rank via Service ${ROUTER} (header x-lightrank-segment), first 3 of ${CANDIDATES} candidates:`,
    );
    table(scoreRows(results));
    for (const r of results)
      say(
        `   SCORES ${r.segment} ${r.status === 200 ? 'ok' : 'FAILED'} track=${r.track} model=${r.modelVersion ?? '-'}`,
      );
    if (!settled(results))
      throw new Error('scoring through the router failed or answered otherwise (see above)');
    return results;
  });
}

async function stepCanary(
  opts: DemoOptions,
  teardown: Teardown,
  cp: ControlPlane,
  client: DemoClient,
  storage: DemoStorage,
  storageUrl: string,
  analysis: boolean,
): Promise<void> {
  await step('Publish model v2 for standard and follow the canary until promotion', async () => {
    const load = client.startLoad(LOAD_RPS, ['standard', 'shopping']);
    teardown.add('the background load', () => load.stop());
    try {
      await serverSideApply(
        cp.kubeConfig,
        `/apis/lightrank.dev/v1alpha1/namespaces/${NAMESPACE}/rankingmodels/${MODEL}`,
        {
          apiVersion: 'lightrank.dev/v1alpha1',
          kind: 'RankingModel',
          metadata: { name: MODEL, namespace: NAMESPACE },
          ...newModelVersion(storage, storageUrl),
        },
        'lightrank-demo-publish',
      );
      say(
        `   spec.model → v2 (uri ${storage.standard.v2.path}, sha256 ${storage.standard.v2.sha256.slice(0, 12)}…)`,
      );
      say(
        `   background load: ~${LOAD_RPS} requests/s over both segments; canary analysis ${analysis ? 'ON (Prometheus)' : 'OFF (no Prometheus)'}`,
      );
      const outcome = await followRollout({
        kc: cp.kubeConfig,
        namespace: NAMESPACE,
        name: MODEL,
        segment: 'standard',
        version: 'v2',
        load,
        timeoutMs: (opts.stepSeconds * 3 + 240) * 1000,
      });
      say(`   load: ${load.sent} requests, ${load.failed} failed`);
      for (const [what, n] of load.errors) say(`     ${n} × ${what}`);
      if (outcome !== 'promoted') throw new Error('the canary was rolled back (see the analysis above)');
      say('   PROMOTED: standard now serves v2 on its stable track');
    } finally {
      await load.stop();
    }
  });
}

async function waitForCtrlC(): Promise<void> {
  await new Promise<void>(() => setInterval(() => {}, 1 << 30));
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (!opts) return say(USAGE);

  const teardown = new Teardown();
  let runDir: string | undefined;
  let stopping = false;
  const stop = (code: number): void => {
    if (stopping) process.exit(130); // a second Ctrl-C: the exit hooks SIGKILL what is left
    stopping = true;
    say('\n== Tearing down');
    // machine-readable, for test/cluster/demo.test.ts: each of these must be gone afterwards
    say(`   DEMO_PIDS ${JSON.stringify(teardown.pids())}`);
    void teardown.run().then(() => {
      say(`   nothing left running (t+${seconds(elapsedSinceStart())})`);
      if (opts.keep && runDir) say(`   run directory kept (logs, certificates, etcd data): ${runDir}`);
      process.exit(code);
    });
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));

  try {
    const images = opts.containers ? await stepImages() : undefined;
    const cp = await stepControlPlane(opts, teardown);
    runDir = cp.runDir;
    await stepInstallCrd(cp, opts);
    let operatorCheck: OperatorCheck;
    let agent: NodeAgent;
    if (images) {
      agent = await stepAgent(cp, teardown, 'containers');
      operatorCheck = await stepHelmOperator(cp, images);
    } else {
      operatorCheck = await stepOperator(cp, teardown);
      agent = await stepAgent(cp, teardown, 'processes');
    }
    const { storage, url: storageUrl } = await stepStorage(cp, teardown, agent);
    const prometheusUrl = await stepPrometheus(opts, cp, teardown, agent);
    await stepApplyModel(opts, cp, storage, storageUrl, prometheusUrl);
    await stepRouter(cp, opts);
    await stepWaitReady(cp, operatorCheck);
    const client = new DemoClient({
      kubeConfig: cp.kubeConfig,
      namespace: NAMESPACE,
      service: ROUTER,
      model: MODEL,
      storage,
    });
    teardown.add('the demo client', () => client.close());
    await stepScores(client, 'Score both segments through the router', 'v1');
    if (opts.containers) await stepInForce(cp);
    await stepCanary(opts, teardown, cp, client, storage, storageUrl, prometheusUrl !== undefined);
    await stepScores(client, 'Score again: standard answers from v2 on its stable track', 'v2');
    say(
      `\nDEMO COMPLETE in ${seconds(elapsedSinceStart())} (${opts.containers ? 'containers: every lightrank part from its image' : 'host processes'})`,
    );
    if (opts.keep) {
      say('\nLeft running (--keep). In another terminal:');
      say(`  export KUBECONFIG=${cp.kubeconfigPath}`);
      say(`  ${cp.binaries.kubectl} get rkm -n ${NAMESPACE} -w`);
      say(`  ${cp.binaries.kubectl} get pods -n ${NAMESPACE} -o wide`);
      if (prometheusUrl) say(`  Prometheus: ${prometheusUrl}`);
      say('Press Ctrl-C to stop everything.');
      await waitForCtrlC();
    }
    stop(0);
  } catch (err) {
    process.stderr.write(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    stop(1);
  }
}

void main();
