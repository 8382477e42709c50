// Desired state as pure functions: a RankingModel segment in, the Deployment and Service the
// operator wants out. No client, no clock; unit-tested on plain objects. The apply step
// (apply.ts) decides whether the live objects already match. The pods run as the namespace's
// shared scoring identity (rbac.ts, identity.ts).
import { PodEnv } from '../api/pod-env.js';
import { storageEnvFrom } from './credentials.js';
import { API_GROUP_VERSION, KIND, type RankingModel } from '../api/rankingmodel.js';
import type { ResolvedSegment } from '../api/resolve.js';
import type { KubeObject, OwnerReference } from './runtime/kube/types.js';
import { CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT, TMP_MOUNT, TMP_VOLUME } from './pod-security.js';
import { SCORING_IDENTITY } from './rbac.js';

export const MANAGED_BY = 'lightrank-operator';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_MODEL = 'lightrank.dev/model';
export const LABEL_SEGMENT = 'lightrank.dev/segment';
export const LABEL_TRACK = 'lightrank.dev/track';
/** The label selector the operator's informers watch owned objects with. */
export const MANAGED_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;

export const DATA_DIR = '/var/lib/lightrank';
export const SERVER_PORT = 8080;
export const SIDECAR_PORT = 8081;
/**
 * What the sync sidecar container requests. Memory: a sidecar process measured 79–85 MiB RSS idle
 * and 94–121 MiB after syncing a snapshot (10–205 MB, streamed), Node 20.20,
 * bench/sidecar-memory.ts (bench/results-operator.md, 2026-12-06 10:00 UTC); 144Mi leaves ~20%
 * over the synced figure. It ran in 64Mi's stead at 141/166 MiB while it loaded client-node.
 */
export const SIDECAR_RESOURCES = { requests: { cpu: '50m', memory: '144Mi' } };
/** The server's OIP gRPC port (the sidecar has 8081). */
export const GRPC_PORT = 8001;
export const SERVICE_PORT = 80;
/** Entry points inside the lightrank image (docs/internals.md: `node dist/<part>/main.js`). */
export const SERVER_COMMAND = ['node', 'dist/server/main.js'];
export const SIDECAR_COMMAND = ['node', 'dist/sidecar/main.js'];

export type Track = 'stable' | 'canary';

/** What the builders take from the operator's configuration. */
export interface BuildOptions {
  /** Image of the sync sidecar when spec.serving.image is not set (the server's comes resolved). */
  sidecarImage: string;
  /** imagePullPolicy of both containers; undefined leaves the Kubernetes default. */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
}

export type Deployment = KubeObject & { spec: Record<string, unknown> };
export type Service = KubeObject & { spec: Record<string, unknown> };

/** Name of a segment's Deployment: `<model>-<segment>`, plus `-canary` for the canary track. */
export function deploymentName(model: string, segment: string, track: Track): string {
  return track === 'stable' ? `${model}-${segment}` : `${model}-${segment}-canary`;
}

export function serviceName(model: string, segment: string): string {
  return `${model}-${segment}`;
}

export function ownerReference(model: RankingModel): OwnerReference {
  if (!model.metadata.uid)
    throw new Error(`RankingModel ${model.metadata.name} has no uid (not read from the API server?)`);
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND,
    name: model.metadata.name,
    uid: model.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Pod selector of a segment's track; immutable on a Deployment, so it holds no version. */
export function selectorLabels(model: string, segment: string, track: Track): Record<string, string> {
  return { [LABEL_MODEL]: model, [LABEL_SEGMENT]: segment, [LABEL_TRACK]: track };
}

/** Labels on every scoring object of a model: Kubernetes recommended labels plus lightrank's own. */
export function scoringLabels(model: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'lightrank-server',
    'app.kubernetes.io/instance': model,
    'app.kubernetes.io/component': 'scoring',
    'app.kubernetes.io/part-of': 'lightrank',
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_MODEL]: model,
  };
}

/** Labels of a segment's track objects: the scoring labels, the version, the pod selector. */
export function objectLabels(model: string, seg: ResolvedSegment, track: Track): Record<string, string> {
  return {
    ...scoringLabels(model),
    'app.kubernetes.io/version': seg.model.version,
    ...selectorLabels(model, seg.name, track),
  };
}

function env(vars: Record<string, string | number>): { name: string; value: string }[] {
  return Object.entries(vars).map(([name, value]) => ({ name, value: String(value) }));
}

/** The pod's own name, namespace and uid (downward API): the sidecar's Events are about its pod. */
const POD_ENV = [
  { name: PodEnv.PodName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: PodEnv.PodNamespace, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  { name: PodEnv.PodUid, valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
];

export function quantities(
  list: { cpu?: string | number; memory?: string | number } | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (list?.cpu !== undefined) out.cpu = String(list.cpu);
  if (list?.memory !== undefined) out.memory = String(list.memory);
  return out;
}

/** Requests/limits of the server container: CPU and memory from the spec, the GPU when on cuda. */
export function serverResources(seg: ResolvedSegment): {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
} {
  const s = seg.serving;
  const requests = quantities(s.resources?.requests);
  const limits = quantities(s.resources?.limits);
  // extended resources are requested via limits (requests default to them, and must equal them)
  if (s.executionProvider === 'cuda') limits[s.gpu.resourceName] = String(s.gpu.count);
  return {
    ...(Object.keys(requests).length ? { requests } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
  };
}

/** The spec's tolerations, preceded on cuda by the device plugin's taint of GPU nodes. */
function tolerations(seg: ResolvedSegment): Record<string, unknown>[] {
  const gpu =
    seg.serving.executionProvider === 'cuda'
      ? [{ key: seg.serving.gpu.resourceName, operator: 'Exists', effect: 'NoSchedule' }]
      : [];
  return [...gpu, ...(seg.serving.tolerations ?? [])];
}

export function buildDeployment(
  model: RankingModel,
  seg: ResolvedSegment,
  track: Track,
  opts: BuildOptions,
): Deployment {
  const name = model.metadata.name;
  const s = seg.serving;
  const labels = objectLabels(name, seg, track);
  const common = { [PodEnv.DataDir]: DATA_DIR, [PodEnv.Segment]: seg.name, [PodEnv.Track]: track };
  const volumeMounts = [{ name: 'data', mountPath: DATA_DIR }, TMP_MOUNT];
  const tol = tolerations(seg);
  const resources = serverResources(seg);
  const pull = opts.imagePullPolicy ? { imagePullPolicy: opts.imagePullPolicy } : {};
  const podSpec: Record<string, unknown> = {
    // shared by every scoring pod of the namespace (rbac.ts, identity.ts)
    serviceAccountName: SCORING_IDENTITY,
    securityContext: POD_SECURITY_CONTEXT,
    containers: [
      {
        name: 'server',
        image: s.image,
        ...pull,
        command: SERVER_COMMAND,
        env: env({
          ...common,
          [PodEnv.Port]: SERVER_PORT,
          [PodEnv.GrpcPort]: GRPC_PORT,
          [PodEnv.ModelName]: name,
          [PodEnv.ExecutionProvider]: s.executionProvider,
          [PodEnv.MaxBatchSize]: s.batching.maxBatchSize,
          [PodEnv.MaxQueueDelayUs]: s.batching.maxQueueDelayMicroseconds,
        }),
        ports: [
          { name: 'http', containerPort: SERVER_PORT, protocol: 'TCP' },
          { name: 'grpc', containerPort: GRPC_PORT, protocol: 'TCP' },
        ],
        readinessProbe: {
          httpGet: { path: '/v2/health/ready', port: 'http' },
          periodSeconds: 5,
          failureThreshold: 3,
        },
        livenessProbe: {
          httpGet: { path: '/v2/health/live', port: 'http' },
          periodSeconds: 10,
          failureThreshold: 6,
        },
        ...(Object.keys(resources).length ? { resources } : {}),
        securityContext: CONTAINER_SECURITY_CONTEXT,
        volumeMounts,
      },
      {
        name: 'sync',
        image: model.spec.serving.image ?? opts.sidecarImage,
        ...pull,
        command: SIDECAR_COMMAND,
        env: [
          ...env({
            ...common,
            [PodEnv.Port]: SIDECAR_PORT,
            [PodEnv.ModelUri]: seg.model.uri,
            [PodEnv.ModelSha256]: seg.model.sha256,
            [PodEnv.ModelVersion]: seg.model.version,
            [PodEnv.TowerFingerprint]: seg.model.towerFingerprint,
            [PodEnv.SnapshotUri]: seg.snapshot.uri,
            [PodEnv.SnapshotPollSeconds]: seg.snapshot.pollIntervalSeconds,
          }),
          ...POD_ENV,
        ],
        // the snapshot storage's credentials (a Secret, read by the kubelet): credentials.ts
        ...storageEnvFrom(seg),
        ports: [{ name: 'sync', containerPort: SIDECAR_PORT, protocol: 'TCP' }],
        readinessProbe: { httpGet: { path: '/readyz', port: 'sync' }, periodSeconds: 5, failureThreshold: 3 },
        resources: SIDECAR_RESOURCES,
        securityContext: CONTAINER_SECURITY_CONTEXT,
        volumeMounts,
      },
    ],
    volumes: [{ name: 'data', emptyDir: {} }, TMP_VOLUME],
    ...(s.nodeSelector && Object.keys(s.nodeSelector).length ? { nodeSelector: s.nodeSelector } : {}),
    ...(tol.length ? { tolerations: tol } : {}),
    ...(s.affinity ? { affinity: s.affinity } : {}),
    ...(s.runtimeClassName ? { runtimeClassName: s.runtimeClassName } : {}),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: deploymentName(name, seg.name, track),
      namespace: model.metadata.namespace,
      labels,
      ownerReferences: [ownerReference(model)],
    },
    spec: {
      replicas: seg.replicas,
      selector: { matchLabels: selectorLabels(name, seg.name, track) },
      template: {
        metadata: {
          labels,
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(SERVER_PORT),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: podSpec,
      },
    },
  };
}

/**
 * The segment's Service, port 80 → server: the stable track's pods only, so a caller that uses it
 * directly never reaches a canary, and the stable backend of every traffic provider
 * (traffic/services.ts). The canary gets traffic only through the router or the Gateway, at its weight.
 */
export function buildService(model: RankingModel, seg: ResolvedSegment): Service {
  const name = model.metadata.name;
  const labels = objectLabels(name, seg, 'stable');
  delete labels[LABEL_TRACK];
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: serviceName(name, seg.name),
      namespace: model.metadata.namespace,
      labels,
      ownerReferences: [ownerReference(model)],
    },
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(name, seg.name, 'stable'),
      ports: [
        { name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' },
        { name: 'grpc', port: GRPC_PORT, targetPort: 'grpc', protocol: 'TCP' },
      ],
    },
  };
}
