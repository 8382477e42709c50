// The Helm chart against the control plane in a box, with helm built from its Go module
// (scripts/build-helm.sh): lint; default and edge-case values rendered and accepted by the real
// API server (server-side dry run, strict field validation); bad values refused by the schema
// with messages naming the field; and a release's life: install → the operator pod scheduled and
// Ready (kwok) → the operator process, run here with the chart's ServiceAccount token so that the
// chart's RBAC is all it has, reconciles an example to Ready without one refused request →
// upgrade → uninstall leaves nothing behind but the CRD.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { REPO_ROOT, controlPlaneCacheDir } from '../harness/binaries.js';
import {
  clients,
  clusterInfo,
  isPodReady,
  useTestNamespace,
  waitFor,
  waitForReadyPods,
} from '../harness/cluster.js';
import { readAuditEvents } from '../harness/audit.js';
import { ROUTER_RULES, SCORING_RULES } from '../../operator/rbac.js';
import { buildTool } from '../harness/tools.js';
import { ADAPTER_RULES } from '../../operator/autoscaling/metrics.js';
import { freePort } from '../harness/ports.js';

const CHART = join(REPO_ROOT, 'charts', 'lightrank');
const RELEASE = 'lr';
const FULLNAME = 'lr-lightrank';
const OPERATOR = `${FULLNAME}-operator`;
const SERVICE_ACCOUNT = FULLNAME;
const RELEASE_SELECTOR = `app.kubernetes.io/instance=${RELEASE}`;
const RECOMMENDED_LABELS = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
  'app.kubernetes.io/component',
  'app.kubernetes.io/part-of',
  'app.kubernetes.io/managed-by',
];
const MONITORING_APIS = ['monitoring.coreos.com/v1/ServiceMonitor', 'monitoring.coreos.com/v1/PodMonitor'];
const DIGEST = `sha256:${'a1'.repeat(32)}`;

const ns = useTestNamespace('helm');
let work: string;
let helmBin: string;
let kubectlBin: string;
let env: NodeJS.ProcessEnv;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded by `timeoutMs`), never throwing on a non-zero exit. */
function run(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

const helm = (...args: string[]): Promise<Result> => run(helmBin, args, { timeoutMs: 150_000 });
const kubectl = (args: string[], input?: string): Promise<Result> => run(kubectlBin, args, { input });

function expectOk(r: Result, what: string): string {
  expect(r.code, `${what} failed:\n${r.stderr}${r.stdout.slice(-2000)}`).toBe(0);
  return r.stdout;
}

function valuesFile(name: string, values: object): string {
  const path = join(work, `${name.replace(/[^a-z0-9]+/gi, '-')}.yaml`);
  writeFileSync(path, stringify(values));
  return path;
}

type Manifest = {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

async function render(values: object, name: string, extra: string[] = []): Promise<Manifest[]> {
  const out = expectOk(
    await helm('template', RELEASE, CHART, '-n', ns.name, '-f', valuesFile(name, values), ...extra),
    `helm template (${name})`,
  );
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const byKind = (ms: Manifest[], kind: string): Manifest[] => ms.filter((m) => m.kind === kind);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'lightrank-helm-'));
  // cached after the first build (CI builds it before the tests); a cold build takes minutes
  const helmDir = await buildTool('build-helm.sh');
  helmBin = join(helmDir, 'helm');
  kubectlBin = join(controlPlaneCacheDir(), 'bin', 'kubectl');
  env = {
    ...process.env,
    KUBECONFIG: clusterInfo().kubeconfigPath,
    HELM_CONFIG_HOME: join(work, 'helm-config'),
    HELM_CACHE_HOME: join(work, 'helm-cache'),
    HELM_DATA_HOME: join(work, 'helm-data'),
  };
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('helm lint', () => {
  it('is clean with the default values and with every edge case', async () => {
    for (const [name, values] of Object.entries(edgeCases())) {
      const r = await helm('lint', '--strict', CHART, '-n', 'lint', '-f', valuesFile(`lint-${name}`, values));
      expect(r.code, `${name}:\n${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('0 chart(s) failed');
      expect(r.stdout, name).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });
});

/** Values a user may reasonably set, each rendered and dry-run against the API server. */
function edgeCases(): Record<string, object> {
  return {
    defaults: {},
    'single namespace': { watchNamespace: 'models' },
    'KEDA access and the prometheus-adapter rules': {
      rbac: { keda: true },
      prometheusAdapterRules: { create: true },
    },
    'two replicas, images by digest and private registry': {
      replicaCount: 2,
      image: { repository: 'registry.example.com:5000/team/lightrank-operator', digest: DIGEST },
      imagePullSecrets: [{ name: 'regcred' }],
      scoringImages: {
        server: { repository: 'registry.example.com:5000/team/lightrank-server', tag: '0.2.0' },
        sidecar: { repository: 'registry.example.com:5000/team/lightrank-server', digest: DIGEST },
        router: { repository: 'registry.example.com:5000/team/lightrank-server', tag: '0.2.0-cpu' },
        pullPolicy: 'Always',
      },
    },
    'no gateway API, existing ServiceAccount, no leader election, no metrics Service': {
      fullnameOverride: 'ranking-operator',
      rbac: { gatewayAPI: false },
      serviceAccount: { create: false, name: 'default' },
      leaderElection: { enabled: false },
      metrics: { port: 9090, service: { enabled: false } },
    },
    'scheduling, annotations, extra env, resources': {
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'control', effect: 'NoSchedule' }],
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 1,
              preference: { matchExpressions: [{ key: 'type', operator: 'In', values: ['kwok'] }] },
            },
          ],
        },
      },
      podAnnotations: { 'example.com/team': 'ranking' },
      podLabels: { team: 'ranking' },
      extraEnv: [{ name: 'LIGHTRANK_WORKERS', value: '8' }],
      resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: 1, memory: '512Mi' } },
      serviceAccount: { annotations: { 'iam.example.com/role': 'lightrank' } },
    },
  };
}

describe('helm template → kubectl apply --dry-run=server', () => {
  it('renders the defaults as a hardened, labelled, leader-elected operator', async () => {
    const ms = await render({}, 'defaults');
    expect(ms.map((m) => m.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRole',
        'ClusterRoleBinding',
        'ClusterRoleBinding',
        'Deployment',
        'Lease',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
    for (const m of ms) {
      for (const label of RECOMMENDED_LABELS)
        expect(m.metadata.labels, `${m.kind} ${label}`).toHaveProperty([label]);
    }
    const dep = byKind(ms, 'Deployment')[0] as unknown as V1Deployment;
    const pod = dep.spec!.template.spec!;
    const c = pod.containers[0]!;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    const envOf = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    expect(envOf).toMatchObject({
      LIGHTRANK_LEADER_ELECTION: 'true',
      LIGHTRANK_LEASE_NAME: `${FULLNAME}-leader`,
      LIGHTRANK_WATCH_NAMESPACE: '',
      LIGHTRANK_SERVER_IMAGE: expect.stringMatching(/^ghcr\.io\/lightrank\/lightrank-server:\d+\.\d+\.\d+$/),
    });
    // the RBAC is the documented least-privilege set: no wildcards, no secrets; pods listed
    // (GPU capacity), watched (snapshot annotations) and get/patch (granted to the scoring pods)
    const rules = byKind(ms, 'ClusterRole').flatMap((r) => (r as unknown as { rules: Rule[] }).rules);
    const flat = rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${res}:${v}`)));
    expect(flat.filter((x) => x.includes('*'))).toEqual([]);
    expect(flat.filter((x) => /^(secrets|pods):/.test(x)).sort()).toEqual([
      'pods:get',
      'pods:list',
      'pods:patch',
      'pods:watch',
    ]);
    // what the shared scoring and router Roles grant (operator/rbac.ts), the operator must hold
    // (escalation prevention)
    const granted = [...SCORING_RULES, ...ROUTER_RULES].flatMap((r) =>
      r.resources.flatMap((res) => r.verbs.map((v) => `${res}:${v}`)),
    );
    expect(granted).toEqual(
      expect.arrayContaining(['endpointslices:get', 'endpointslices:list', 'endpointslices:watch']),
    );
    expect(flat).toEqual(expect.arrayContaining(granted));
    expect(flat).toEqual(
      expect.arrayContaining(['serviceaccounts:create', 'roles:create', 'rolebindings:create']),
    );
    expect(flat).toContain('rankingmodels/status:patch');
    expect(flat).toContain('nodes:list');
    expect(flat.filter((x) => x.startsWith('nodes:'))).toEqual(['nodes:get', 'nodes:list', 'nodes:watch']);
  });

  it('renders the prometheus-adapter rules (the operator’s own) as a ConfigMap when asked', async () => {
    expect(byKind(await render({}, 'no-adapter-rules'), 'ConfigMap')).toEqual([]);
    const [cm] = byKind(
      await render({ prometheusAdapterRules: { create: true } }, 'adapter-rules'),
      'ConfigMap',
    );
    expect(cm?.metadata.name).toMatch(/-prometheus-adapter-rules$/);
    const config = parse((cm as Manifest & { data: Record<string, string> }).data['config.yaml']!) as unknown;
    expect(config).toEqual(ADAPTER_RULES);
  });

  it('every edge case is accepted by the API server (strict field validation)', async () => {
    const cases: [string, object, string[]][] = [
      ...Object.entries(edgeCases()).map(([n, v]): [string, object, string[]] => [n, v, []]),
      [
        'ServiceMonitor and PodMonitor on',
        {
          serviceMonitor: {
            enabled: true,
            interval: '15s',
            scrapeTimeout: '5s',
            labels: { release: 'prom' },
          },
          podMonitor: { enabled: true, interval: '10s', labels: { release: 'prom' } },
        },
        MONITORING_APIS.flatMap((api) => ['--api-versions', api]),
      ],
    ];
    for (const [name, values, extra] of cases) {
      // a single-namespace install puts its Role in the watched namespace: use the test's own
      const v = 'watchNamespace' in values ? { ...values, watchNamespace: ns.name } : values;
      const ms = await render(v, name, extra);
      const r = await kubectl(
        ['apply', '--dry-run=server', '--validate=strict', '-n', ns.name, '-f', '-'],
        ms.map((m) => stringify(m)).join('---\n'),
      );
      expectOk(r, `server-side dry run of "${name}"`);
      expect(r.stdout, name).toMatch(/deployment\.apps\/\S+ created \(server dry run\)/);
      if (name.startsWith('ServiceMonitor')) {
        expect(r.stdout).toMatch(/servicemonitor\S* created \(server dry run\)/);
        expect(r.stdout).toMatch(/podmonitor\S* created \(server dry run\)/);
      }
      if (name === 'single namespace') {
        expect(byKind(ms, 'Role').map((m) => m.metadata.namespace)).toContain(ns.name);
        expect(byKind(ms, 'ClusterRole').map((m) => m.metadata.name)).toEqual([`${FULLNAME}-nodes`]);
      }
    }
  });
});

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/**
 * Test fixture: the control plane has no Prometheus Operator, so stand-in ServiceMonitor and
 * PodMonitor CRDs (same group/version/kind, schema left open) let the API server accept the
 * chart's objects. Removed after the test file.
 */
const MONITORING_CRDS = MONITORING_APIS.map((api) => {
  const kind = api.split('/').pop()!;
  const plural = `${kind.toLowerCase()}s`;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: 'monitoring.coreos.com',
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  };
});

beforeAll(async () => {
  const input = MONITORING_CRDS.map((c) => JSON.stringify(c)).join('\n');
  expectOk(await kubectl(['apply', '-f', '-'], input), 'monitoring CRD fixtures');
  const names = MONITORING_CRDS.map((c) => `crd/${c.metadata.name}`);
  expectOk(
    await kubectl(['wait', '--for=condition=Established', '--timeout=30s', ...names]),
    'monitoring CRD fixtures established',
  );
});

afterAll(async () => {
  const names = MONITORING_CRDS.map((c) => `crd/${c.metadata.name}`);
  await kubectl(['delete', '--ignore-not-found', '--wait=false', ...names]);
});

describe('values.schema.json', () => {
  const bad: [string, string[], RegExp[]][] = [
    ['negative replicas', ['replicaCount=-1'], [/\/replicaCount/, /minimum/]],
    ['replicas as text', ['replicaCount=two'], [/\/replicaCount/, /integer/]],
    ['misspelt key', ['replicas=2'], [/additional properties 'replicas' not allowed/]],
    [
      'image with a tag in the repository',
      ['image.repository=ghcr.io/acme/Operator:1.0'],
      [/\/image\/repository/],
    ],
    ['truncated digest', ['scoringImages.server.digest=sha256:abc'], [/\/scoringImages\/server\/digest/]],
    ['tag with a space', ['scoringImages.router.tag=1.0 beta'], [/\/scoringImages\/router\/tag/]],
    ['unknown pull policy', ['image.pullPolicy=Sometimes'], [/\/image\/pullPolicy/, /IfNotPresent/]],
    ['unknown log level', ['logLevel=verbose'], [/\/logLevel/, /'info'/]],
    ['port out of range', ['metrics.port=70000'], [/\/metrics\/port/, /maximum/]],
    [
      'privilege escalation',
      ['securityContext.allowPrivilegeEscalation=true'],
      [/allowPrivilegeEscalation/, /false/],
    ],
    ['root user', ['podSecurityContext.runAsNonRoot=false'], [/runAsNonRoot/]],
    ['bad namespace name', ['watchNamespace=Models_A'], [/\/watchNamespace/]],
    ['bad scrape interval', ['serviceMonitor.interval=30 seconds'], [/\/serviceMonitor\/interval/]],
    ['bad quantity', ['resources.limits.memory=lots'], [/\/resources\/limits\/memory/]],
    [
      'two replicas without leader election',
      ['replicaCount=2', 'leaderElection.enabled=false'],
      [/replicaCount > 1 needs leaderElection\.enabled=true/],
    ],
    [
      'ServiceMonitor on a cluster without the CRD',
      ['serviceMonitor.enabled=true'],
      [/does not serve monitoring\.coreos\.com\/v1 ServiceMonitor/],
    ],
    [
      'PodMonitor on a cluster without the CRD',
      ['podMonitor.enabled=true'],
      [/does not serve monitoring\.coreos\.com\/v1 PodMonitor/],
    ],
    ['PodMonitor with a bad interval', ['podMonitor.interval=often'], [/\/podMonitor\/interval/]],
  ];
  it.each(bad)('refuses %s with a message naming it', async (_name, sets, messages) => {
    const r = await helm('template', RELEASE, CHART, ...sets.flatMap((s) => ['--set', s]));
    expect(r.code).not.toBe(0);
    for (const m of messages) expect(r.stderr).toMatch(m);
  });
});

describe('helm install → operator reconciles → upgrade → uninstall', () => {
  const localIdentity = 'lr-local-operator';
  const saUser = (): string => `system:serviceaccount:${ns.name}:${SERVICE_ACCOUNT}`;
  let saKubeconfig = '';
  let operator: ChildProcess | undefined;
  let operatorLog = '';

  afterAll(async () => {
    if (operator && operator.exitCode === null) {
      operator.kill('SIGKILL');
      await new Promise((r) => operator!.once('exit', r));
    }
  });

  /** A kubeconfig holding a token of the chart's ServiceAccount (TokenRequest API). */
  async function serviceAccountKubeconfig(): Promise<string> {
    const token = expectOk(
      await kubectl(['create', 'token', SERVICE_ACCOUNT, '-n', ns.name, '--duration=10m']),
      'create token',
    ).trim();
    const admin = parse(readFileSync(clusterInfo().kubeconfigPath, 'utf8')) as {
      clusters: { name: string; cluster: Record<string, string> }[];
    };
    const path = join(work, 'operator.kubeconfig');
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: admin.clusters[0]!.cluster }],
        users: [{ name: 'sa', user: { token } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'sa' } }],
        'current-context': 'c',
      }),
      { mode: 0o600 },
    );
    return path;
  }

  /**
   * Pods on kwok nodes run nothing, so the operator runs here: operator/main.ts with the env the
   * chart gave its container (read back from the Deployment) and the ServiceAccount's token, so
   * the chart's RBAC is all it has. Resolves once /readyz answers 200.
   */
  async function startOperator(): Promise<void> {
    const dep = await clients().apps.readNamespacedDeployment({ name: OPERATOR, namespace: ns.name });
    const chartEnv: Record<string, string> = {};
    for (const e of dep.spec!.template.spec!.containers[0]!.env ?? []) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      const fromField =
        field === 'metadata.name' ? localIdentity : field === 'metadata.namespace' ? ns.name : undefined;
      chartEnv[e.name] = fromField ?? e.value ?? '';
    }
    const port = await freePort();
    operatorLog = '';
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'operator', 'main.ts')], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        ...chartEnv,
        KUBECONFIG: saKubeconfig,
        LIGHTRANK_PORT: String(port),
        LIGHTRANK_BIND_ADDRESS: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    operator = child;
    const keep = (d: Buffer) => (operatorLog = (operatorLog + d.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    await withOperatorLog(
      waitFor('the operator to be ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, {
        timeoutMs: 45_000,
        abortIf: operatorExited,
      }),
    );
  }

  async function stopOperator(): Promise<void> {
    const child = operator!;
    child.kill('SIGTERM'); // releases the Lease
    await waitFor('the operator to exit', () => child.exitCode !== null, { timeoutMs: 20_000 });
    expect(child.exitCode, operatorLog.slice(-2000)).toBe(0);
  }

  const operatorExited = (): string | undefined =>
    operator!.exitCode !== null ? `operator exited:\n${operatorLog}` : undefined;

  const withOperatorLog = async <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: Error) => {
      throw new Error(`${err.message}\noperator log (tail):\n${operatorLog.slice(-4000)}`);
    });

  async function readLeaseHolder(): Promise<string | undefined> {
    const lease = await kubectl(['get', 'lease', `${FULLNAME}-leader`, '-n', ns.name, '-o', 'json']);
    return (JSON.parse(expectOk(lease, 'get lease')) as { spec: { holderIdentity?: string } }).spec
      .holderIdentity;
  }

  /**
   * Writes the ServiceAccount made in the test namespace since `since`: none refused. With
   * `onlyOurs` (the operator watches only the test namespace) its log must not mention a refusal
   * either; an all-namespaces operator may meet other test files' leftovers in terminating
   * namespaces, which the API server refuses (403) for reasons that are not RBAC.
   */
  function expectNoRefusedWrites(since: Date, mustTouch: string[], onlyOurs: boolean): void {
    if (onlyOurs) expect(operatorLog).not.toMatch(/forbidden/i);
    const audit = clusterInfo().auditLogPath;
    if (!audit) return; // an external cluster: no audit log to read
    const writes = readAuditEvents(audit, { username: saUser(), namespace: ns.name, since });
    const name = (e: (typeof writes)[number]): string =>
      `${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`;
    const refused = writes.filter((e) => (e.responseStatus?.code ?? 0) === 403);
    expect(refused.map((e) => `${e.verb} ${name(e)}`)).toEqual([]);
    const touched = new Set(writes.map(name));
    for (const r of mustTouch) expect(touched, `writes seen: ${[...touched].join(', ')}`).toContain(r);
  }

  it('installs: the operator Deployment is scheduled and Ready', async () => {
    const out = expectOk(
      await helm(
        'install',
        RELEASE,
        CHART,
        '-n',
        ns.name,
        '--set',
        `watchNamespace=${ns.name}`,
        '--wait',
        '--timeout',
        '90s',
      ),
      'helm install',
    );
    // NOTES.txt tells what was installed and how to check it
    expect(out).toContain(`The operator watches RankingModels in namespace "${ns.name}"`);
    expect(out).toContain(`kubectl -n ${ns.name} rollout status deployment/${OPERATOR}`);
    const dep = await clients().apps.readNamespacedDeployment({ name: OPERATOR, namespace: ns.name });
    expect(dep.status?.readyReplicas).toBe(1);
    const [pod] = await waitForReadyPods(
      clients().core,
      ns.name,
      `${RELEASE_SELECTOR},app.kubernetes.io/component=operator`,
      1,
    );
    expect(isPodReady(pod!)).toBe(true);
    expect(pod!.spec?.nodeName).toMatch(/^cpu-node-/); // no GPU needed, GPU nodes are tainted
    expect(pod!.spec?.serviceAccountName).toBe(SERVICE_ACCOUNT);
    expect(await readLeaseHolder()).toBeUndefined(); // the chart's Lease, not held yet
  });

  it('single-namespace RBAC (a Role) is enough: the operator reconciles an example to Ready', async () => {
    saKubeconfig = await serviceAccountKubeconfig();
    const since = new Date(Date.now() - 1000);
    await startOperator();
    expectOk(
      await kubectl(['apply', '-n', ns.name, '-f', join(REPO_ROOT, 'examples', 'minimal.yaml')]),
      'apply example',
    );
    type Model = { status?: { conditions?: { type: string; status: string; reason?: string }[] } };
    await withOperatorLog(
      waitFor(
        'the example RankingModel to be Ready',
        async () => {
          const m = (await clients().custom.getNamespacedCustomObject({
            group: 'lightrank.dev',
            version: 'v1alpha1',
            namespace: ns.name,
            plural: 'rankingmodels',
            name: 'ranker',
          })) as Model;
          const ready = m.status?.conditions?.find((c) => c.type === 'Ready');
          if (ready?.status === 'True') return true;
          throw new Error(`Ready=${ready?.status}/${ready?.reason}`);
        },
        { timeoutMs: 60_000, abortIf: operatorExited },
      ),
    );
    const owned = await clients().apps.listNamespacedDeployment({ namespace: ns.name });
    expect(
      owned.items.filter((d) => d.metadata?.ownerReferences?.[0]?.kind === 'RankingModel').length,
    ).toBeGreaterThan(0);
    expect(await readLeaseHolder()).toBe(localIdentity);
    expectNoRefusedWrites(
      since,
      [
        'deployments',
        'services',
        'rankingmodels/status',
        'leases',
        'serviceaccounts',
        'roles',
        'rolebindings',
      ],
      true,
    );
  });

  it('upgrades: replicas, images and all-namespaces RBAC change; the held Lease survives', async () => {
    expectOk(
      await helm(
        'upgrade',
        RELEASE,
        CHART,
        '-n',
        ns.name,
        '--set',
        'replicaCount=2',
        '--set',
        'image.tag=0.1.1',
        '--set',
        'scoringImages.server.tag=0.1.1',
        '--wait',
        '--timeout',
        '90s',
      ),
      'helm upgrade',
    );
    const dep = await clients().apps.readNamespacedDeployment({ name: OPERATOR, namespace: ns.name });
    expect(dep.spec?.replicas).toBe(2);
    expect(dep.status?.readyReplicas).toBe(2);
    const c = dep.spec!.template.spec!.containers[0]!;
    expect(c.image).toBe('ghcr.io/lightrank/lightrank-operator:0.1.1');
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    expect(env.LIGHTRANK_SERVER_IMAGE).toBe('ghcr.io/lightrank/lightrank-server:0.1.1');
    expect(env).toHaveProperty('LIGHTRANK_WATCH_NAMESPACE');
    expect(env.LIGHTRANK_WATCH_NAMESPACE ?? '').toBe(''); // the API server drops an empty value
    // watchNamespace went back to "" (all): the Role became a ClusterRole
    const roles = expectOk(
      await kubectl(['get', 'roles', '-n', ns.name, '-l', RELEASE_SELECTOR, '-o', 'name']),
      'roles',
    );
    expect(roles.split('\n').filter(Boolean)).toEqual([
      `role.rbac.authorization.k8s.io/${FULLNAME}-leader-election`,
    ]);
    expectOk(await kubectl(['get', 'clusterrole', `${FULLNAME}-operator`]), 'ClusterRole after upgrade');
    expect(await readLeaseHolder()).toBe(localIdentity); // Helm's merge left the holder alone
    const history = expectOk(await helm('history', RELEASE, '-n', ns.name, '-o', 'json'), 'helm history');
    expect((JSON.parse(history) as { status: string }[]).map((h) => h.status)).toEqual([
      'superseded',
      'deployed',
    ]);
  });

  it('all-namespaces RBAC (a ClusterRole) is enough: the restarted operator follows a spec change', async () => {
    await stopOperator();
    const since = new Date(Date.now() - 1000);
    await startOperator(); // now with LIGHTRANK_WATCH_NAMESPACE="" from the upgraded Deployment
    const patch = JSON.stringify([{ op: 'replace', path: '/spec/segments/0/replicas', value: 2 }]);
    expectOk(
      await kubectl(['patch', 'rankingmodel', 'ranker', '-n', ns.name, '--type=json', '-p', patch]),
      'scale the example',
    );
    await withOperatorLog(
      waitFor(
        "the example's Deployment to be scaled to 2",
        async () => {
          const list = await clients().apps.listNamespacedDeployment({ namespace: ns.name });
          const d = list.items.find((x) => x.metadata?.ownerReferences?.[0]?.kind === 'RankingModel');
          if (d?.spec?.replicas === 2) return true;
          throw new Error(`replicas=${d?.spec?.replicas}`);
        },
        { timeoutMs: 30_000, abortIf: operatorExited },
      ),
    );
    expectNoRefusedWrites(since, ['deployments', 'leases'], false);
  });

  it('uninstalls: nothing is left but the CRD', async () => {
    // as docs/install.md says: the example first, while the operator runs (Helm never owned it;
    // its objects go with it, and the operator deletes the namespace's shared identities, which
    // no model owns, with its last model)
    expectOk(
      await kubectl(['delete', 'rankingmodel', 'ranker', '-n', ns.name, '--wait=true']),
      'delete example',
    );
    await withOperatorLog(
      waitFor(
        'the shared identities deleted by the operator',
        async () => {
          const out = expectOk(
            await kubectl([
              'get',
              'serviceaccounts,roles,rolebindings',
              '-n',
              ns.name,
              '-l',
              'lightrank.dev/identity',
              '-o',
              'name',
            ]),
            'list shared identities',
          );
          if (out.trim() === '') return true;
          throw new Error(`still there: ${out.trim().split('\n').join(', ')}`);
        },
        { timeoutMs: 30_000, abortIf: operatorExited },
      ),
    );
    await stopOperator();

    expectOk(await helm('uninstall', RELEASE, '-n', ns.name, '--wait', '--timeout', '60s'), 'helm uninstall');
    const kinds =
      'deployments,replicasets,pods,services,serviceaccounts,configmaps,secrets,roles,rolebindings,leases,rankingmodels';
    const left = await waitFor(
      'the namespace to hold only what Kubernetes puts in every namespace',
      async () => {
        const out = expectOk(await kubectl(['get', kinds, '-n', ns.name, '-o', 'name']), 'list namespace');
        const names = out.split('\n').filter(Boolean);
        const extra = names.filter(
          (n) => !['serviceaccount/default', 'configmap/kube-root-ca.crt'].includes(n),
        );
        if (extra.length === 0) return names;
        throw new Error(`still there: ${extra.join(', ')}`);
      },
      { timeoutMs: 45_000 },
    );
    expect(left.sort()).toEqual(['configmap/kube-root-ca.crt', 'serviceaccount/default']);
    const cluster = expectOk(
      await kubectl(['get', 'clusterroles,clusterrolebindings', '-l', RELEASE_SELECTOR, '-o', 'name']),
      'list cluster-scoped',
    );
    expect(cluster.trim()).toBe('');
    // Helm never deletes what it installed from crds/
    expectOk(await kubectl(['get', 'crd', 'rankingmodels.lightrank.dev']), 'the CRD is kept');
  });
});
