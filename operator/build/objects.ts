// The Kubernetes objects of a snapshot build (spec.snapshot.build), as pure functions of the
// model, the segment and the build's version (docs/embed.md):
//  - the shard Job: an Indexed Job, one completion index per shard, each pod running
//    `lightrank embed shard` from the scoring image; backoffLimitPerIndex retries a failed shard
//    alone; maxFailedIndexes 0 fails the build at the first shard out of retries; the
//    podFailurePolicy fails an index at once when the shard exits with EXIT_BAD_INPUT (bad data,
//    a wrong tower: no retry can fix it) and does not count a pod evicted by a disruption;
//  - the publish Job: one pod running `lightrank embed publish` once every shard succeeded.
// Both take the snapshot's storage credentials from its Secret (envFrom: ../credentials.ts).
// Parts are staged under the snapshot's own storage (`<prefix>/.staging/<version>/part-NNNNN`,
// embed/publish.ts), so publishing copies within one storage: an s3:// prefix needs nothing
// shared by the build pods; a file:// prefix must be a folder every build pod sees.
//
// API:
//   buildVersion(itemTowerSha256, at) → '<UTC yyyymmddThhmmssZ>-<sha256[0:8]>'
//   shardJobName(model, segment, version), publishJobName(model, segment, version)
//   buildShardJob(model, seg, version, opts) → Job
//   buildPublishJob(model, seg, version, opts) → Job
import { createHash } from 'node:crypto';
import type { RankingModel } from '../../api/rankingmodel.js';
import { PodEnv } from '../../api/pod-env.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import { EXIT_BAD_INPUT } from '../../embed/exit-codes.js';
import { LABEL_MANAGED_BY, LABEL_MODEL, MANAGED_BY, ownerReference, quantities } from '../builders.js';
import { CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT, TMP_MOUNT, TMP_VOLUME } from '../pod-security.js';
import { storageEnvFrom } from '../credentials.js';
import type { KubeObject } from '../runtime/kube/types.js';

export type Job = KubeObject & { spec: Record<string, unknown>; status?: JobStatus };

export interface JobStatus {
  active?: number;
  succeeded?: number;
  failed?: number;
  completedIndexes?: string;
  failedIndexes?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

/** The segment a build object belongs to (not LABEL_SEGMENT: build pods are not scoring pods). */
export const LABEL_BUILD_SEGMENT = 'lightrank.dev/build-segment';
/** The snapshot version a build object makes. */
export const LABEL_BUILD_VERSION = 'lightrank.dev/build-version';
/** shard or publish. */
export const LABEL_BUILD_STEP = 'lightrank.dev/build-step';
export const EMBED_COMMAND = ['node', 'dist/embed/main.js'];
/** Kubernetes' default terminationMessagePath, named so the shard can be told where it is. */
export const TERMINATION_MESSAGE_PATH = '/dev/termination-log';
const CONTAINER = 'embed';

export interface BuildJobOptions {
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
}

export function buildVersion(itemTowerSha256: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  return `${stamp}-${itemTowerSha256.slice(0, 8)}`;
}

function jobName(model: string, segment: string, version: string, step: 'b' | 'p'): string {
  const hash = createHash('sha256').update(`${model}/${segment}/${version}`).digest('hex').slice(0, 10);
  // within 63 characters: the Job's name is a label value on its pods
  return `${`${model}-${segment}`.slice(0, 48)}-${step}-${hash}`;
}

export const shardJobName = (model: string, segment: string, version: string) =>
  jobName(model, segment, version, 'b');
export const publishJobName = (model: string, segment: string, version: string) =>
  jobName(model, segment, version, 'p');

function labels(model: string, seg: ResolvedSegment, version: string, step: 'shard' | 'publish') {
  return {
    'app.kubernetes.io/name': 'lightrank-embed',
    'app.kubernetes.io/instance': model,
    'app.kubernetes.io/component': 'snapshot-build',
    'app.kubernetes.io/part-of': 'lightrank',
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_MODEL]: model,
    [LABEL_BUILD_SEGMENT]: seg.name,
    [LABEL_BUILD_VERSION]: version,
    [LABEL_BUILD_STEP]: step,
  };
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not set (the API server requires it)`);
  return value;
}

/**
 * Bad input (the embed exit code EXIT_BAD_INPUT) ends the index or the Job at once — retrying
 * cannot fix the data; a pod evicted or preempted (DisruptionTarget) does not count as a failure.
 */
function badInputPolicy(action: 'FailIndex' | 'FailJob') {
  return {
    rules: [
      { action, onExitCodes: { containerName: CONTAINER, operator: 'In', values: [EXIT_BAD_INPUT] } },
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] },
    ],
  };
}

/** The build's pods: spec.snapshot.build.pods, else the scoring pods' serving settings. */
function podSettings(seg: ResolvedSegment) {
  const build = required(seg.snapshot.build, `segment ${seg.name}: snapshot.build`);
  const pods = build.pods;
  const s = pods ? { ...pods, image: pods.image ?? seg.serving.image } : seg.serving;
  const requests = quantities(s.resources?.requests);
  const limits = quantities(s.resources?.limits);
  if (s.executionProvider === 'cuda') limits[s.gpu.resourceName] = String(s.gpu.count);
  const tolerations = [
    ...(s.executionProvider === 'cuda'
      ? [{ key: s.gpu.resourceName, operator: 'Exists', effect: 'NoSchedule' }]
      : []),
    ...(s.tolerations ?? []),
  ];
  return {
    build,
    image: s.image,
    executionProvider: s.executionProvider,
    resources: {
      ...(Object.keys(requests).length ? { requests } : {}),
      ...(Object.keys(limits).length ? { limits } : {}),
    },
    scheduling: {
      ...(s.nodeSelector && Object.keys(s.nodeSelector).length ? { nodeSelector: s.nodeSelector } : {}),
      ...(tolerations.length ? { tolerations } : {}),
      ...(s.affinity ? { affinity: s.affinity } : {}),
      ...(s.runtimeClassName ? { runtimeClassName: s.runtimeClassName } : {}),
    },
  };
}

function podSpec(seg: ResolvedSegment, args: string[], opts: BuildJobOptions): Record<string, unknown> {
  const p = podSettings(seg);
  return {
    restartPolicy: 'Never', // required by podFailurePolicy; the Job retries by index
    automountServiceAccountToken: false,
    securityContext: POD_SECURITY_CONTEXT,
    containers: [
      {
        name: CONTAINER,
        image: p.image,
        ...(opts.imagePullPolicy ? { imagePullPolicy: opts.imagePullPolicy } : {}),
        command: EMBED_COMMAND,
        args,
        env: [
          { name: 'LIGHTRANK_EXECUTION_PROVIDER', value: p.executionProvider },
          // a finished shard writes its items and seconds there: the build's items/s (builds.ts)
          { name: PodEnv.TerminationMessagePath, value: TERMINATION_MESSAGE_PATH },
          ...(p.build.env ?? []).map((e) => ({ name: e.name, value: e.value })),
        ],
        ...storageEnvFrom(seg),
        // the shard's last words become the pod's termination message: the operator quotes it
        terminationMessagePolicy: 'FallbackToLogsOnError',
        terminationMessagePath: TERMINATION_MESSAGE_PATH,
        ...(Object.keys(p.resources).length ? { resources: p.resources } : {}),
        securityContext: CONTAINER_SECURITY_CONTEXT,
        volumeMounts: [TMP_MOUNT],
      },
    ],
    volumes: [TMP_VOLUME],
    ...p.scheduling,
  };
}

function jobObject(
  model: RankingModel,
  seg: ResolvedSegment,
  version: string,
  step: 'shard' | 'publish',
  spec: Record<string, unknown>,
): Job {
  const name = model.metadata.name;
  const l = labels(name, seg, version, step);
  const template = spec.template as { spec: Record<string, unknown> };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name:
        step === 'shard' ? shardJobName(name, seg.name, version) : publishJobName(name, seg.name, version),
      namespace: model.metadata.namespace,
      labels: l,
      ownerReferences: [ownerReference(model)],
    },
    spec: { ...spec, template: { metadata: { labels: l }, spec: template.spec } },
  };
}

export function buildShardJob(
  model: RankingModel,
  seg: ResolvedSegment,
  version: string,
  opts: BuildJobOptions = {},
): Job {
  const build = required(seg.snapshot.build, `segment ${seg.name}: snapshot.build`);
  const tower = required(seg.model.itemTower, `segment ${seg.name}: model.itemTower`);
  const c = build.catalogue;
  const args = [
    'shard',
    '--catalogue',
    c.uri,
    ...(c.files ? ['--files', c.files.join(',')] : []),
    '--id-column',
    c.idColumn,
    ...(c.denseColumns ? ['--dense-columns', c.denseColumns.join(',')] : []),
    ...(c.categoricalColumns ? ['--categorical-columns', c.categoricalColumns.join(',')] : []),
    '--item-tower-uri',
    tower.uri,
    '--item-tower-sha256',
    tower.sha256,
    '--fingerprint',
    seg.model.towerFingerprint,
    '--prefix',
    seg.snapshot.uri,
    '--version',
    version,
    '--shards',
    String(build.shards),
  ];
  return jobObject(model, seg, version, 'shard', {
    completionMode: 'Indexed',
    completions: build.shards,
    parallelism: build.parallelism ?? build.shards,
    backoffLimitPerIndex: build.backoffLimitPerIndex,
    maxFailedIndexes: 0,
    podFailurePolicy: badInputPolicy('FailIndex'),
    template: { spec: podSpec(seg, args, opts) },
  });
}

export function buildPublishJob(
  model: RankingModel,
  seg: ResolvedSegment,
  version: string,
  opts: BuildJobOptions = {},
): Job {
  const build = required(seg.snapshot.build, `segment ${seg.name}: snapshot.build`);
  const args = [
    'publish',
    '--prefix',
    seg.snapshot.uri,
    '--version',
    version,
    '--shards',
    String(build.shards),
    '--fingerprint',
    seg.model.towerFingerprint,
  ];
  return jobObject(model, seg, version, 'publish', {
    completions: 1,
    backoffLimit: 2,
    podFailurePolicy: badInputPolicy('FailJob'),
    template: { spec: podSpec(seg, args, opts) },
  });
}
