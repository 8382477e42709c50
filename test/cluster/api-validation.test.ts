// The RankingModel CRD on the real API server: invalid specs are refused with a message naming the
// field, a valid one is stored with its defaults, the status subresource validates too, and
// `kubectl get` / `kubectl explain` show the printer columns and the field descriptions.
import { ApiException } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  API_GROUP,
  API_GROUP_VERSION,
  API_VERSION,
  KIND,
  MAX_NAME_PLUS_SEGMENT,
  PLURAL,
  RankingModelSchema,
} from '../../api/rankingmodel.js';
import { builtSpec, minimalSpec } from '../../api/testing.js';
import { CRD_NAME, rankingModelOpenAPISchema } from '../../api/crd.js';
import { cachedBinaries } from '../harness/binaries.js';
import { clients, clusterInfo, useTestNamespace } from '../harness/cluster.js';

const ns = useTestNamespace('api-validation');
const run = promisify(execFile);

type Spec = Record<string, unknown> & ReturnType<typeof minimalSpec>;

function manifest(name: string, spec: unknown) {
  return { apiVersion: API_GROUP_VERSION, kind: KIND, metadata: { name }, spec };
}

async function create(name: string, spec: unknown, dryRun?: 'All') {
  return clients().custom.createNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    namespace: ns.name,
    plural: PLURAL,
    body: manifest(name, spec),
    dryRun,
    fieldValidation: 'Strict',
  });
}

/** The API server's message refusing `spec` (fails the test if the spec is accepted). */
async function refusal(spec: unknown, name = 'invalid'): Promise<string> {
  try {
    await create(name, spec, 'All');
  } catch (err) {
    if (err instanceof ApiException && typeof err.body === 'string') {
      expect(err.code).toBeOneOf([400, 422]);
      return (JSON.parse(err.body) as { message: string }).message;
    }
    throw err;
  }
  throw new Error('the API server accepted the spec');
}

async function kubectl(...args: string[]): Promise<string> {
  const bin = cachedBinaries()?.kubectl;
  if (!bin) throw new Error('kubectl is not in the control-plane cache (run scripts/build-control-plane.sh)');
  const { stdout } = await run(bin, ['--kubeconfig', clusterInfo().kubeconfigPath, ...args]);
  return stdout;
}

it('the installed CRD carries the generated schema whole (defaults and CEL rules included)', async () => {
  // Guards the installation path: a client that serialises the CRD through typed models silently
  // drops `default` and every `x-kubernetes-*` key, and then nothing below would be enforced.
  const installed = JSON.parse(await kubectl('get', 'crd', CRD_NAME, '-o', 'json')) as {
    spec: { versions: { schema: { openAPIV3Schema: unknown } }[] };
  };
  expect(installed.spec.versions[0]?.schema.openAPIV3Schema).toEqual(rankingModelOpenAPISchema());
});

const edits: [string, (s: Spec) => void, string[]][] = [
  // free-form scheduling fields have the core types' shapes and tight bounds (serving.affinity,
  // nodeSelector): refused up front, not later as an ApplyFailed from a Deployment patch
  [
    'an affinity that is not an Affinity',
    (s) => (s.serving = { affinity: { nodeAffinity: 'yes' } as never }),
    ['spec.serving.affinity.nodeAffinity', 'must be of type object'],
  ],
  [
    'a 1 MiB string inside affinity',
    (s) =>
      (s.serving = {
        affinity: {
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'x'.repeat(1 << 20) }],
          },
        },
      }),
    [
      'spec.serving.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey',
      'Too long',
    ],
  ],
  [
    'an affinity operator Kubernetes does not know',
    (s) =>
      (s.serving = {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'gpu', operator: 'Like' as never }] }],
            },
          },
        },
      }),
    ['matchExpressions[0].operator', 'Unsupported value: "Like"'],
  ],
  [
    '20,000 nodeSelector keys',
    (s) =>
      (s.serving = {
        nodeSelector: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, 'v'])),
      }),
    ['spec.serving.nodeSelector', 'must have at most 32 items'],
  ],
  [
    'a toleration effect Kubernetes does not know',
    (s) => (s.serving = { tolerations: [{ key: 'gpu', effect: 'Sometimes' as never }] }),
    ['spec.serving.tolerations[0].effect', 'Unsupported value: "Sometimes"'],
  ],
  [
    'a memory request that is not a quantity',
    (s) => (s.serving = { resources: { requests: { memory: 'lots' } } }),
    ['spec.serving.resources.requests.memory', 'Kubernetes quantity'],
  ],
  [
    'an unsupported model URI scheme',
    (s) => (s.model!.uri = 'ftp://models/q.onnx'),
    ['spec.model.uri', 'must be a file://, http://, https:// or s3:// URI'],
  ],
  [
    'a short sha256',
    (s) => (s.model!.sha256 = 'abc123'),
    ['spec.model.sha256', 'must be 64 lowercase hexadecimal characters'],
  ],
  [
    'an upper-case sha256',
    (s) => (s.model!.sha256 = 'A'.repeat(64)),
    ['spec.model.sha256', 'must be 64 lowercase hexadecimal'],
  ],
  ['a duplicate task', (s) => (s.model!.tasks = ['ctr', 'ctr']), ['spec.model.tasks[1]', 'Duplicate value']],
  [
    'an unsupported snapshot URI scheme',
    (s) => (s.snapshot = { uri: 'gs://bucket/snapshots' }),
    ['spec.snapshot.uri', 'must be a file://'],
  ],
  [
    'a segment name that is not DNS-1123',
    (s) => (s.segments[0]!.name = 'Main_Segment'),
    ['spec.segments[0].name', 'must be a DNS-1123 label'],
  ],
  [
    "a segment named 'router' (the router's Deployment and Service are <model>-router)",
    (s) => (s.segments[0]!.name = 'router'),
    ['spec.segments[0].name', "must not be 'router'"],
  ],
  [
    "a segment name ending in '-canary' (another segment's per-track name)",
    (s) => (s.segments[0]!.name = 'main-canary'),
    ['spec.segments[0].name', "end in '-stable' or '-canary'"],
  ],
  [
    'two segments with one name',
    (s) => s.segments.push({ name: 'main' }),
    ['spec.segments', 'segment names must be unique'],
  ],
  [
    'two default segments',
    (s) => s.segments.push({ name: 'other', match: { default: true } }),
    ['spec.segments', 'at most one segment may be the default'],
  ],
  [
    'a header value claimed by two segments',
    (s) => s.segments.push({ name: 'b', match: { headerValues: ['main'] } }),
    ['spec.segments', 'a header value may select only one segment'],
  ],
  ['no segments', (s) => (s.segments = []), ['spec.segments', 'should have at least 1 items']],
  [
    'negative replicas',
    (s) => (s.segments[0]!.replicas = -1),
    ['spec.segments[0].replicas', 'greater than or equal to 0'],
  ],
  // autoscaling: which combinations are valid (CEL on the segment, the block and the spec)
  [
    'replicas and autoscaling on one segment',
    (s) => Object.assign(s.segments[0]!, { replicas: 2, autoscaling: { maxReplicas: 4, target: 50 } }),
    ['spec.segments[0].autoscaling', 'set replicas (a fixed segment) or autoscaling, not both'],
  ],
  [
    'autoscaling with minReplicas above maxReplicas',
    (s) => (s.segments[0]!.autoscaling = { minReplicas: 5, maxReplicas: 4, target: 50 }),
    ['spec.segments[0].autoscaling.minReplicas', 'minReplicas must not exceed maxReplicas'],
  ],
  [
    'an HPA scaling to zero',
    (s) => (s.segments[0]!.autoscaling = { minReplicas: 0, maxReplicas: 4, target: 50 }),
    ['spec.segments[0].autoscaling.minReplicas', 'minReplicas 0 (scale to zero) needs engine keda'],
  ],
  [
    'KEDA on requests/s without a Prometheus',
    (s) => (s.serving = { autoscaling: { engine: 'keda', maxReplicas: 4, target: 50 } }),
    ['spec.serving.autoscaling', 'engine keda with a Prometheus metric needs prometheusAddress'],
  ],
  [
    'autoscaling on CPU without a CPU request',
    (s) => (s.segments[0]!.autoscaling = { maxReplicas: 4, target: 70, metric: 'cpuUtilization' }),
    ['spec', 'autoscaling on cpuUtilization needs serving.resources.requests.cpu'],
  ],
  [
    'an autoscaling metric the server has not',
    (s) => (s.segments[0]!.autoscaling = { maxReplicas: 4, target: 5, metric: 'gpu' as 'cpuUtilization' }),
    ['spec.segments[0].autoscaling.metric', 'Unsupported value: "gpu"'],
  ],
  [
    'no model anywhere',
    (s) => delete s.model,
    ['spec.model', 'spec.model is required unless every segment sets its own model'],
  ],
  [
    'no snapshot anywhere',
    (s) => delete s.snapshot,
    ['spec.snapshot', 'spec.snapshot is required unless every segment sets its own snapshot'],
  ],
  [
    'an unknown execution provider',
    (s) => (s.serving = { executionProvider: 'tpu' as 'cpu' }),
    ['spec.serving.executionProvider', 'Unsupported value: "tpu"'],
  ],
  [
    'cuda without a GPU',
    (s) => (s.serving = { gpu: { count: 0 } }),
    ['spec.serving.gpu.count', 'gpu.count must be at least 1 when executionProvider is cuda'],
  ],
  [
    'a CPU request above its limit',
    (s) => (s.serving = { resources: { requests: { cpu: '3' }, limits: { cpu: '2' } } }),
    ['spec.serving.resources', 'requests.cpu must not exceed limits.cpu'],
  ],
  [
    'a memory quantity that is not one',
    (s) => (s.serving = { resources: { requests: { memory: 'lots' } } }),
    ['spec.serving.resources.requests.memory', 'must be a Kubernetes quantity'],
  ],
  [
    'a toleration Exists with a value',
    (s) => (s.serving = { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', value: 'x' }] }),
    ['spec.serving.tolerations[0]', 'a toleration with operator Exists must not set a value'],
  ],
  [
    'descending canary weights',
    (s) => (s.rollout = { steps: [{ weight: 50 }, { weight: 20 }, { weight: 100 }] }),
    ['spec.rollout.steps', 'step weights must be strictly ascending'],
  ],
  [
    'a repeated canary weight',
    (s) => (s.rollout = { steps: [{ weight: 50 }, { weight: 50 }, { weight: 100 }] }),
    ['spec.rollout.steps', 'step weights must be strictly ascending'],
  ],
  [
    'canary steps not ending at 100',
    (s) => (s.rollout = { steps: [{ weight: 10 }, { weight: 50 }] }),
    ['spec.rollout.steps', 'the last step must have weight 100'],
  ],
  [
    'a canary weight over 100',
    (s) => (s.rollout = { steps: [{ weight: 150 }] }),
    ['spec.rollout.steps[0].weight', 'less than or equal to 100'],
  ],
  [
    'a Prometheus address that is not a URL',
    (s) => (s.rollout = { analysis: { prometheusAddress: 'prometheus:9090' } }),
    ['spec.rollout.analysis.prometheusAddress', 'must be an http:// or https:// URL'],
  ],
  [
    'an error-rate threshold above 1',
    (s) => (s.rollout = { analysis: { prometheusAddress: 'http://p:9090', maxErrorRate: 5 } }),
    ['spec.rollout.analysis.maxErrorRate', 'less than or equal to 1'],
  ],
  [
    'gatewayAPI routing without parentRefs',
    (s) => (s.routing = { mode: 'gatewayAPI' }),
    ['spec.routing.parentRefs', 'parentRefs are required when mode is gatewayAPI'],
  ],
  [
    'an upper-case routing header',
    (s) => (s.routing = { headerName: 'X-Segment' }),
    ['spec.routing.headerName', 'must be a lowercase HTTP header name'],
  ],
  ['a misspelt field (strict field validation)', (s) => (s.segmnets = []), ['unknown field "spec.segmnets"']],
];

/** Refusals of a built snapshot (spec.snapshot.build), from a valid built spec. */
const buildEdits: [string, (s: Spec) => void, string[]][] = [
  [
    'a build whose parallelism exceeds its shards',
    (s) => (s.snapshot!.build!.parallelism = 8),
    ['spec.snapshot.build.parallelism', 'parallelism must not exceed shards'],
  ],
  [
    'a build that never runs (no schedule, onModelChange false)',
    (s) => (s.snapshot!.build!.onModelChange = false),
    ['spec.snapshot.build', 'a build needs a schedule or onModelChange: true'],
  ],
  [
    'a schedule that is not cron',
    (s) => (s.snapshot!.build!.schedule = 'every night'),
    ['spec.snapshot.build.schedule', 'must be a cron schedule of five fields'],
  ],
  [
    'a built snapshot published to HTTP storage',
    (s) => (s.snapshot!.uri = 'https://cdn.example.com/snapshots'),
    ['spec.snapshot.uri', 'must be s3:// or file:// (HTTP storage is read-only)'],
  ],
  [
    'an http catalogue without its file list',
    (s) => (s.snapshot!.build!.catalogue.uri = 'https://data.example.com/items'),
    ['spec.snapshot.build.catalogue.files', 'files is required for an http(s):// catalogue'],
  ],
  [
    'a built snapshot with no item tower',
    (s) => delete s.model!.itemTower,
    ['spec.segments', "needs its model's itemTower"],
  ],
  [
    'an item tower sha256 that is not one',
    (s) => (s.model!.itemTower!.sha256 = 'xyz'),
    ['spec.model.itemTower.sha256', 'must be 64 lowercase hexadecimal characters'],
  ],
  [
    'build pods on cuda without a GPU',
    (s) => (s.snapshot!.build!.pods = { gpu: { count: 0 } }),
    ['spec.snapshot.build.pods.gpu.count', 'gpu.count must be at least 1 when executionProvider is cuda'],
  ],
  [
    'storage credentials naming no Secret name',
    (s) => (s.snapshot!.credentials = { secretRef: { name: 'Store_Creds' } }),
    ['spec.snapshot.credentials.secretRef.name', 'must be a Secret name'],
  ],
  [
    'storage credentials without a secretRef',
    (s) => (s.snapshot!.credentials = {} as never),
    ['spec.snapshot.credentials.secretRef', 'Required value'],
  ],
  [
    '2,000 shards',
    (s) => (s.snapshot!.build!.shards = 2000),
    ['spec.snapshot.build.shards', 'less than or equal to 1000'],
  ],
];

describe('the API server refuses invalid snapshot builds, naming the field', () => {
  it('accepts a valid built spec', async () => {
    await create('built', builtSpec(), 'All');
  });
  it('accepts a built spec whose storage credentials come from a Secret', async () => {
    const spec = builtSpec() as Spec;
    spec.snapshot!.credentials = { secretRef: { name: 'snapshot-store.s3' } };
    await create('built-creds', spec, 'All');
  });
  it.each(buildEdits)('%s', async (_what, edit, expected) => {
    const spec = builtSpec() as Spec;
    edit(spec);
    const message = await refusal(spec);
    for (const part of expected) expect(message).toContain(part);
  });
});

describe('the API server refuses invalid RankingModels, naming the field', () => {
  it.each(edits)('%s', async (_what, edit, expected) => {
    const spec = minimalSpec() as Spec;
    edit(spec);
    const message = await refusal(spec);
    for (const part of expected) expect(message).toContain(part);
  });
});

describe('names that could not make valid Service and Deployment names are refused', () => {
  it('a name with a dot', async () => {
    expect(await refusal(minimalSpec(), 'ads.ranker')).toContain('metadata.name must be a DNS-1035 label');
  });
  it('a name that with a segment name exceeds the limit', async () => {
    const spec = minimalSpec();
    spec.segments[0]!.name = 'segment';
    const message = await refusal(spec, 'r'.repeat(MAX_NAME_PLUS_SEGMENT - 'segment'.length + 1));
    expect(message).toContain('spec.segments');
    expect(message).toContain(`must not exceed ${MAX_NAME_PLUS_SEGMENT} characters`);
  });
});

describe('a valid RankingModel', () => {
  it('is stored with the defaults filled in, and parses with the zod schema', async () => {
    await create('valid', minimalSpec());
    const stored = RankingModelSchema.parse(
      await clients().custom.getNamespacedCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        namespace: ns.name,
        plural: PLURAL,
        name: 'valid',
      }),
    );
    expect(stored.spec.segments[0]).toEqual({ name: 'main', match: { default: true } });
    expect(stored.spec.snapshot?.pollIntervalSeconds).toBe(30);
    expect(stored.spec.serving.gpu).toEqual({ resourceName: 'nvidia.com/gpu', count: 1 });
    expect(stored.spec.rollout.steps.map((s) => s.weight)).toEqual([10, 50, 100]);
    expect(stored.spec.routing).toEqual({
      mode: 'router',
      headerName: 'x-lightrank-segment',
      routerScope: 'model',
    });
    expect(stored.metadata.generation).toBe(1);
  });

  it('validates status writes through the status subresource and shows them as printer columns', async () => {
    const target = {
      group: API_GROUP,
      version: API_VERSION,
      namespace: ns.name,
      plural: PLURAL,
      name: 'valid',
    };
    const current = (await clients().custom.getNamespacedCustomObject(target)) as Record<string, unknown>;
    const status = {
      observedGeneration: 1,
      phase: 'Ready',
      readySegments: '1/1',
      modelVersion: 'v1',
      rolloutPhase: 'Stable',
      scale: '3/2',
      url: 'http://valid-router.ns.svc:8080',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'DeploymentsReady',
          message: 'all segments ready',
          lastTransitionTime: '2026-01-01T00:00:00Z',
          observedGeneration: 1,
        },
      ],
      segments: [{ name: 'main', replicas: 1, readyReplicas: 1, stableVersion: 'v1', snapshotVersion: 's1' }],
    };
    const bad = { ...status, segments: [{ ...status.segments[0], canaryWeight: 150 }] };
    await expect(
      clients().custom.replaceNamespacedCustomObjectStatus({ ...target, body: { ...current, status: bad } }),
    ).rejects.toThrow(/status\.segments\[0\]\.canaryWeight/);
    await clients().custom.replaceNamespacedCustomObjectStatus({ ...target, body: { ...current, status } });

    const table = await kubectl('get', 'rkm', 'valid', '-n', ns.name);
    const [header, row] = table.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'READY', 'STABLE', 'CANARY', 'STEP', 'PHASE', 'AGE']);
    // no rollout: CANARY and STEP are empty
    expect(row?.split(/\s+/).slice(0, 4)).toEqual(['valid', '1/1', 'v1', 'Ready']);
    const wide = (await kubectl('get', 'rkm', 'valid', '-n', ns.name, '-o', 'wide')).trim().split('\n');
    expect(wide[0]?.split(/\s+/)).toEqual([
      ...['NAME', 'READY', 'STABLE', 'CANARY', 'STEP', 'PHASE', 'AGE'],
      ...['ROLLOUT', 'ANALYSIS', 'SCALE', 'URL', 'REASON'],
    ]);
    // an autoscaler asking for 3 pods of which 2 exist: desired/current
    expect(wide[1]?.split(/\s+/)).toContain('3/2');
    expect(wide[1]?.split(/\s+/)).toContain('http://valid-router.ns.svc:8080');
  });

  it('is listed under the lightrank category', async () => {
    expect(await kubectl('get', 'lightrank', '-n', ns.name, '-o', 'name')).toContain(
      'rankingmodel.lightrank.dev/valid',
    );
  });
});

it('kubectl explain teaches the fields from their descriptions', async () => {
  const out = await kubectl('explain', 'rankingmodel.spec.segments');
  expect(out).toContain('Traffic segments; each gets its own Deployment, Service, model and snapshot.');
  expect(out).toMatch(/match\s+<Object>/);
  expect(out).toContain('How requests are matched to this segment.');
});
