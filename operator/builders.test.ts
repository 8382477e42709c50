import { describe, expect, it } from 'vitest';
import {
  RankingModelSpecSchema,
  type RankingModel,
  type RankingModelSpecInput,
} from '../api/rankingmodel.js';
import { resolveSegments } from '../api/resolve.js';
import { buildDeployment, buildService, MANAGED_SELECTOR, serverResources } from './builders.js';

const SHA = 'a'.repeat(64);

function model(spec: Partial<RankingModelSpecInput> = {}): RankingModel {
  return {
    apiVersion: 'lightrank.dev/v1alpha1',
    kind: 'RankingModel',
    metadata: { name: 'ads', namespace: 'team', uid: 'uid-1', generation: 3 },
    spec: RankingModelSpecSchema.parse({
      model: { uri: 's3://m/ads.onnx', sha256: SHA, version: 'v7', towerFingerprint: 'fp', tasks: ['ctr'] },
      snapshot: { uri: 's3://snaps/ads', pollIntervalSeconds: 15 },
      segments: [{ name: 'standard', replicas: 2 }],
      ...spec,
    }),
  };
}

const opts = { sidecarImage: 'reg/sidecar:1' };
type Container = {
  name: string;
  image: string;
  command: string[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  resources?: unknown;
  readinessProbe: { httpGet: { path: string } };
  livenessProbe?: { httpGet: { path: string } };
};

function first(m: RankingModel, o = opts) {
  const seg = resolveSegments(m.spec, { image: 'reg/server:1' })[0]!;
  const d = buildDeployment(m, seg, 'stable', o);
  const tmpl = (
    d.spec as {
      template: {
        metadata: { labels: Record<string, string>; annotations: Record<string, string> };
        spec: Record<string, unknown>;
      };
    }
  ).template;
  const containers = tmpl.spec.containers as Container[];
  const env = (c: Container) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));
  return { seg, d, tmpl, server: containers[0]!, sync: containers[1]!, env };
}

describe('buildDeployment', () => {
  it('runs the server and the sync sidecar sharing an emptyDir, with the env of docs/internals.md', () => {
    const { d, tmpl, server, sync, env } = first(model());
    expect(d.metadata.name).toBe('ads-standard');
    expect(d.metadata.namespace).toBe('team');
    expect((d.spec as { replicas: number }).replicas).toBe(2);
    expect(server.image).toBe('reg/server:1');
    expect(server.command).toEqual(['node', 'dist/server/main.js']);
    expect(sync.image).toBe('reg/sidecar:1');
    expect(sync.command).toEqual(['node', 'dist/sidecar/main.js']);
    // the shared data volume, and /tmp: the root filesystem is read-only (Pod Security restricted)
    expect(tmpl.spec.volumes).toEqual([
      { name: 'data', emptyDir: {} },
      { name: 'tmp', emptyDir: {} },
    ]);
    expect(env(server)).toEqual({
      LIGHTRANK_DATA_DIR: '/var/lib/lightrank',
      LIGHTRANK_SEGMENT: 'standard',
      LIGHTRANK_TRACK: 'stable',
      LIGHTRANK_PORT: '8080',
      LIGHTRANK_GRPC_PORT: '8001',
      LIGHTRANK_MODEL_NAME: 'ads',
      LIGHTRANK_EXECUTION_PROVIDER: 'cuda',
      LIGHTRANK_MAX_BATCH_SIZE: '64',
      LIGHTRANK_MAX_QUEUE_DELAY_US: '2000',
    });
    expect(env(sync)).toEqual({
      LIGHTRANK_DATA_DIR: '/var/lib/lightrank',
      LIGHTRANK_SEGMENT: 'standard',
      LIGHTRANK_TRACK: 'stable',
      LIGHTRANK_PORT: '8081',
      LIGHTRANK_MODEL_URI: 's3://m/ads.onnx',
      LIGHTRANK_MODEL_SHA256: SHA,
      LIGHTRANK_MODEL_VERSION: 'v7',
      LIGHTRANK_TOWER_FINGERPRINT: 'fp',
      LIGHTRANK_SNAPSHOT_URI: 's3://snaps/ads',
      LIGHTRANK_SNAPSHOT_POLL_SECONDS: '15',
    });
    expect(server.env.some((e) => e.valueFrom)).toBe(false);
    expect(sync.env.filter((e) => e.valueFrom)).toEqual([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
    ]);
    expect(tmpl.spec.serviceAccountName).toBe('lightrank-scoring');
    expect(server.readinessProbe.httpGet.path).toBe('/v2/health/ready');
    expect(server.livenessProbe?.httpGet.path).toBe('/v2/health/live');
    expect(sync.readinessProbe.httpGet.path).toBe('/readyz');
  });

  it('labels, selects and owns by the recommended labels and a controller owner reference', () => {
    const { d, tmpl } = first(model());
    expect(d.metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'lightrank-server',
      'app.kubernetes.io/instance': 'ads',
      'app.kubernetes.io/component': 'scoring',
      'app.kubernetes.io/version': 'v7',
      'app.kubernetes.io/managed-by': 'lightrank-operator',
      'app.kubernetes.io/part-of': 'lightrank',
      'lightrank.dev/model': 'ads',
      'lightrank.dev/segment': 'standard',
      'lightrank.dev/track': 'stable',
    });
    expect(MANAGED_SELECTOR).toBe('app.kubernetes.io/managed-by=lightrank-operator');
    // the selector is immutable: no version in it
    expect((d.spec as { selector: unknown }).selector).toEqual({
      matchLabels: {
        'lightrank.dev/model': 'ads',
        'lightrank.dev/segment': 'standard',
        'lightrank.dev/track': 'stable',
      },
    });
    expect(tmpl.metadata.labels).toEqual(d.metadata.labels);
    expect(tmpl.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '8080',
      'prometheus.io/path': '/metrics',
    });
    expect(d.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'lightrank.dev/v1alpha1',
        kind: 'RankingModel',
        name: 'ads',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it('on cuda requests the GPU as a limit and tolerates the GPU taint; on cpu neither', () => {
    const cuda = first(
      model({
        serving: {
          gpu: { resourceName: 'nvidia.com/mig-1g.10gb', count: 2 },
          resources: { requests: { cpu: '2', memory: '4Gi' }, limits: { memory: '8Gi' } },
        },
      }),
    );
    expect(cuda.server.resources).toEqual({
      requests: { cpu: '2', memory: '4Gi' },
      limits: { memory: '8Gi', 'nvidia.com/mig-1g.10gb': '2' },
    });
    expect(cuda.tmpl.spec.tolerations).toEqual([
      { key: 'nvidia.com/mig-1g.10gb', operator: 'Exists', effect: 'NoSchedule' },
    ]);

    const cpu = first(model({ serving: { executionProvider: 'cpu' } }));
    expect(cpu.server.resources).toBeUndefined();
    expect(cpu.tmpl.spec.tolerations).toBeUndefined();
    expect(cpu.env(cpu.server).LIGHTRANK_EXECUTION_PROVIDER).toBe('cpu');
  });

  it('passes scheduling constraints through from the spec', () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: 'nvidia.com/gpu.family', operator: 'In' as const, values: ['hopper'] },
              ],
            },
          ],
        },
      },
    };
    const { tmpl, server, sync } = first(
      model({
        serving: {
          image: 'reg/custom:2',
          nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' },
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ranking', effect: 'NoSchedule' }],
          affinity,
          runtimeClassName: 'nvidia',
        },
      }),
      { sidecarImage: 'reg/sidecar:1', imagePullPolicy: 'Always' } as never,
    );
    expect(tmpl.spec.nodeSelector).toEqual({ 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' });
    expect(tmpl.spec.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'dedicated', operator: 'Equal', value: 'ranking', effect: 'NoSchedule' },
    ]);
    expect(tmpl.spec.affinity).toEqual(affinity);
    expect(tmpl.spec.runtimeClassName).toBe('nvidia');
    // spec.serving.image is the image of both containers
    expect([server.image, sync.image]).toEqual(['reg/custom:2', 'reg/custom:2']);
    expect((server as unknown as { imagePullPolicy: string }).imagePullPolicy).toBe('Always');
  });

  it('uses the segment overrides of model and snapshot', () => {
    const m = model({
      segments: [
        { name: 'standard', replicas: 1 },
        {
          name: 'shopping',
          replicas: 3,
          model: {
            uri: 'https://h/shop.onnx',
            sha256: 'b'.repeat(64),
            version: 's2',
            towerFingerprint: 'fp2',
            tasks: ['ctr'],
          },
          snapshot: { uri: 'file:///snaps/shop' },
        },
      ],
    });
    const seg = resolveSegments(m.spec, { image: 'reg/server:1' })[1]!;
    const d = buildDeployment(m, seg, 'stable', opts);
    const sync = (d.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[1]!;
    const env = Object.fromEntries(sync.env.map((e) => [e.name, e.value]));
    expect(d.metadata.name).toBe('ads-shopping');
    expect(env.LIGHTRANK_MODEL_URI).toBe('https://h/shop.onnx');
    expect(env.LIGHTRANK_SNAPSHOT_URI).toBe('file:///snaps/shop');
    expect(env.LIGHTRANK_SNAPSHOT_POLL_SECONDS).toBe('30');
    expect(d.metadata.labels?.['app.kubernetes.io/version']).toBe('s2');
  });

  it('refuses a model without a uid (owner references need it)', () => {
    const m = model();
    delete m.metadata.uid;
    const seg = resolveSegments(m.spec, { image: 'i' })[0]!;
    expect(() => buildDeployment(m, seg, 'stable', opts)).toThrow(/has no uid/);
  });
});

describe('buildService', () => {
  it("exposes the segment's stable pods (never a canary's) on port 80, and OIP gRPC on 8001", () => {
    const m = model();
    const s = buildService(m, resolveSegments(m.spec, { image: 'i' })[0]!);
    expect(s.metadata.name).toBe('ads-standard');
    expect(s.metadata.labels?.['lightrank.dev/track']).toBeUndefined();
    expect(s.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('lightrank-operator');
    expect(s.spec).toEqual({
      type: 'ClusterIP',
      selector: {
        'lightrank.dev/model': 'ads',
        'lightrank.dev/segment': 'standard',
        'lightrank.dev/track': 'stable',
      },
      ports: [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'grpc', port: 8001, targetPort: 'grpc', protocol: 'TCP' },
      ],
    });
    expect(s.metadata.ownerReferences?.[0]?.uid).toBe('uid-1');
  });
});

describe('serverResources', () => {
  it('omits everything on cpu without resources', () => {
    const m = model({ serving: { executionProvider: 'cpu' } });
    expect(serverResources(resolveSegments(m.spec, { image: 'i' })[0]!)).toEqual({});
  });
});
