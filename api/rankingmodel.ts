// The lightrank.dev/v1alpha1 RankingModel API: the one zod schema that is the source of truth for
// the CRD (scripts/gen-crd.ts turns it into crds/lightrank.dev_rankingmodels.yaml and
// docs/reference.md) and for the operator's types.
//
// Conventions in this file:
//  - every field has a `description` (it becomes `kubectl explain` text);
//  - `x-kubernetes-validations` in `.meta()` are CEL rules the API server enforces; the same rule
//    is mirrored in zod (`.refine`/`.superRefine`) when the operator must not trust its input;
//  - every string and list has a max length/size so that the CEL cost budget stays bounded;
//  - an optional object with defaults inside defaults to its filled-in value
//    (`X.default(() => X.parse({}))`), so that the CRD's default passes the CEL rules as written
//    and `kubectl explain` shows it.
import { z } from 'zod';
import {
  AutoscalingSpecSchema,
  CPU_REQUEST_MESSAGE,
  CPU_REQUEST_RULE,
  REPLICAS_XOR_AUTOSCALING_MESSAGE,
} from './autoscaling.js';

export const API_GROUP = 'lightrank.dev';
export const API_VERSION = 'v1alpha1';
export const KIND = 'RankingModel';
export const PLURAL = 'rankingmodels';
export const SINGULAR = 'rankingmodel';
export const SHORT_NAMES = ['rkm'];
export const CATEGORIES = ['lightrank', 'all'];
/** `apiVersion` as written in manifests. */
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

/** The request header that selects a segment when `spec.routing.headerName` is not set. */
export const DEFAULT_SEGMENT_HEADER = 'x-lightrank-segment';
/** The extended resource a GPU is requested as when `spec.serving.gpu.resourceName` is not set. */
export const DEFAULT_GPU_RESOURCE = 'nvidia.com/gpu';
/** URI schemes the sync sidecar can fetch from. */
export const SUPPORTED_URI_SCHEMES = ['file', 'http', 'https', 's3'] as const;

export const MAX_SEGMENTS = 16;
export const MAX_HEADER_VALUES = 8;
export const MAX_TASKS = 16;
export const MAX_ROLLOUT_STEPS = 10;

// ---- shared building blocks ---------------------------------------------------------------------

/** A string rule checked by zod and, as the same regular expression, by the API server (CEL). */
function matching(base: z.ZodString, re: RegExp, message: string, description: string) {
  const source = re.source.replaceAll('\\/', '/');
  // A CEL string literal would read any other backslash as an escape of its own.
  if (source.includes('\\')) throw new Error(`matching(${re}): no backslashes, they do not survive into CEL`);
  return base.regex(re, message).meta({
    description,
    'x-kubernetes-validations': [{ rule: `self.matches('${source}')`, message }],
  });
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_MESSAGE =
  "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit";
const RESERVED_SEGMENT_MESSAGE =
  "must not be 'router' or end in '-stable' or '-canary': the model's router objects are named <model>-router, a segment's per-track Services <model>-<segment>-stable and -canary";
/** Segment names whose objects would take the names of the router's or another segment's. */
export function isReservedSegmentName(name: string): boolean {
  return name === 'router' || name.endsWith('-stable') || name.endsWith('-canary');
}
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const URI = new RegExp(`^(${SUPPORTED_URI_SCHEMES.join('|')})://.+$`);
const URI_SCHEMES_TEXT = SUPPORTED_URI_SCHEMES.map((s) => `${s}://`)
  .join(', ')
  .replace(/, ([^,]*)$/, ' or $1');
const URI_MESSAGE = `must be a ${URI_SCHEMES_TEXT} URI`;
const SHA256 = /^[0-9a-f]{64}$/;
const TASK = /^[a-z][a-z0-9_]*$/;
const HEADER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HTTP_URL = /^https?:\/\/.+$/;
/** A Kubernetes resource quantity, as a string (e.g. "500m", "2", "4Gi"). */
const QUANTITY =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;
const QUANTITY_MESSAGE = 'must be a Kubernetes quantity written as a string, such as "500m", "2" or "4Gi"';

/**
 * A quantity field. A string only (not Kubernetes' int-or-string): one type for the operator, and a
 * schema every client can install unchanged.
 */
const quantity = (description: string) =>
  z
    .string()
    .max(64)
    .refine((q) => QUANTITY.test(q), QUANTITY_MESSAGE)
    .optional()
    .meta({
      description,
      'x-kubernetes-validations': [{ rule: 'isQuantity(self)', message: QUANTITY_MESSAGE }],
    });

// ---- spec ---------------------------------------------------------------------------------------

export const ItemTowerRefSchema = z
  .object({
    uri: matching(
      z.string().min(1).max(1024),
      URI,
      URI_MESSAGE,
      'Where the item-tower ONNX file is fetched from by the build pods: file://, http://, https:// or s3://.',
    ),
    sha256: matching(
      z.string().max(64),
      SHA256,
      'must be 64 lowercase hexadecimal characters',
      'SHA-256 of the item-tower ONNX file, 64 lowercase hex characters; a build refuses a file that does not match.',
    ),
  })
  .meta({ description: 'The item-tower ONNX file of a tower pair.' });

export const ModelRefSchema = z
  .object({
    uri: matching(
      z.string().min(1).max(1024),
      URI,
      URI_MESSAGE,
      'Where the query-tower ONNX file is fetched from by the sync sidecar: file://, http://, https:// or s3://.',
    ),
    sha256: matching(
      z.string().max(64),
      SHA256,
      'must be 64 lowercase hexadecimal characters',
      'SHA-256 of the ONNX file, 64 lowercase hex characters; the sidecar refuses a file that does not match.',
    ),
    version: matching(
      z.string().min(1).max(63),
      LABEL_VALUE,
      "must be usable as a label value: letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
      'Model version (e.g. "v3"), also a label value on the scoring pods. A change of version starts a canary rollout; it is reported in status and metrics.',
    ),
    towerFingerprint: z.string().min(1).max(128).meta({
      description:
        'Fingerprint of the item/query tower pair. Snapshots must carry the same fingerprint or they are refused.',
    }),
    tasks: z
      .array(
        matching(
          z.string().max(63),
          TASK,
          'must be a task name: lowercase letters, digits and _, starting with a letter',
          'Task name (e.g. ctr).',
        ),
      )
      .min(1)
      .max(MAX_TASKS)
      .refine((t) => new Set(t).size === t.length, 'task names must be unique')
      .meta({
        description:
          'Tasks the model scores, in output order (e.g. [ctr, good_click]). Must match the model and snapshots.',
        'x-kubernetes-list-type': 'set',
      }),
    itemTower: ItemTowerRefSchema.optional().meta({
      description:
        'The item tower paired with this query tower: what a built snapshot (snapshot.build) runs over the catalogue. Its ONNX metadata must carry the same towerFingerprint, or the build refuses it.',
    }),
  })
  .meta({ description: 'A query-tower model: where to fetch it and what it must be.' });

// a DNS-1123 subdomain, written without a backslash (matching() carries it into CEL)
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const StorageCredentialsSchema = z
  .object({
    secretRef: z
      .object({
        name: matching(
          z.string().min(1).max(253),
          DNS1123_SUBDOMAIN,
          "must be a Secret name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
          "Name of a Secret in the RankingModel's namespace.",
        ),
      })
      .meta({ description: 'The Secret holding the storage credentials.' }),
  })
  .meta({
    description:
      "Storage credentials from a Secret in the model's namespace: each of its keys becomes an environment variable (envFrom) of every pod that reads or writes this snapshot's storage — the scoring pods' sync sidecar and the build's shard and publish pods. For S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN), and where needed AWS_ENDPOINT_URL_S3, AWS_REGION, LIGHTRANK_S3_FORCE_PATH_STYLE; for http(s): LIGHTRANK_HTTP_AUTHORIZATION. Variables the operator sets itself win over the Secret's. The operator never reads the Secret; the kubelet does.",
  });

const BUILD_URI_MESSAGE =
  'a built snapshot (build) is published to its uri, which must be s3:// or file:// (HTTP storage is read-only)';

export const SnapshotSourceSchema = z
  .object({
    uri: matching(
      z.string().min(1).max(1024),
      URI,
      URI_MESSAGE,
      'Storage prefix holding the embedding snapshots (a LATEST pointer and one directory per version): file://, http://, https:// or s3://.',
    ),
    pollIntervalSeconds: z
      .int()
      .min(1)
      .max(86400)
      .default(30)
      .meta({ description: 'How often the sidecar checks LATEST for a new snapshot version, in seconds.' }),
    credentials: StorageCredentialsSchema.optional(),
    // lazy: the build's pods reuse the serving types, declared further down
    build: z.lazy(() => SnapshotBuildSchema).optional(),
  })
  .refine((s) => s.build === undefined || /^(s3|file):/.test(s.uri), {
    message: BUILD_URI_MESSAGE,
    path: ['uri'],
  })
  .meta({
    description: 'Where item-embedding snapshots are published and how often to look for new ones.',
    'x-kubernetes-validations': [
      {
        rule: "!has(self.build) || self.uri.startsWith('s3://') || self.uri.startsWith('file://')",
        message: BUILD_URI_MESSAGE,
        fieldPath: '.uri',
      },
    ],
  });

export const SegmentMatchSchema = z
  .object({
    headerValues: z
      .array(z.string().min(1).max(63).meta({ description: 'A header value.' }))
      .min(1)
      .max(MAX_HEADER_VALUES)
      .optional()
      .meta({
        description:
          'Values of the routing header (spec.routing.headerName) that select this segment. Defaults to the segment name.',
        'x-kubernetes-list-type': 'set',
      }),
    default: z.boolean().default(false).meta({
      description:
        'This segment serves requests whose header is missing or matches no segment. At most one segment may be the default; when none is, the first segment is.',
    }),
  })
  .meta({ description: 'How requests are matched to this segment.' });

export const SegmentSpecSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(40)
      .regex(DNS1123_LABEL, DNS1123_MESSAGE)
      .refine((n) => !isReservedSegmentName(n), RESERVED_SEGMENT_MESSAGE)
      .meta({
        description:
          "Segment name (e.g. standard, shopping): a DNS-1123 label of at most 40 characters; it names the Deployment and Service of the segment. Not 'router', and not ending in '-stable' or '-canary' (names the operator gives the model's router and a segment's per-track objects).",
        'x-kubernetes-validations': [
          { rule: `self.matches('${DNS1123_LABEL.source}')`, message: DNS1123_MESSAGE },
          {
            rule: "self != 'router' && !self.endsWith('-stable') && !self.endsWith('-canary')",
            message: RESERVED_SEGMENT_MESSAGE,
          },
        ],
      }),
    replicas: z.int().min(0).max(1000).optional().meta({
      description:
        'Number of scoring pods for this segment (stable track): a fixed segment. Without it the segment autoscales (its own autoscaling, else serving.autoscaling) or, with neither, runs 1 pod.',
    }),
    autoscaling: AutoscalingSpecSchema.optional().meta({
      description:
        'Scale this segment on its own load (replaces serving.autoscaling for it). Not together with replicas.',
    }),
    match: SegmentMatchSchema.default(() => SegmentMatchSchema.parse({})),
    model: ModelRefSchema.optional().meta({
      description: 'Model for this segment; replaces spec.model entirely when set.',
    }),
    snapshot: SnapshotSourceSchema.optional().meta({
      description: 'Snapshot source for this segment; replaces spec.snapshot entirely when set.',
    }),
  })
  .refine((s) => s.replicas === undefined || s.autoscaling === undefined, {
    message: REPLICAS_XOR_AUTOSCALING_MESSAGE,
    path: ['autoscaling'],
  })
  .meta({
    description: 'A traffic segment served by its own model and snapshot.',
    'x-kubernetes-validations': [
      {
        rule: '!has(self.replicas) || !has(self.autoscaling)',
        message: REPLICAS_XOR_AUTOSCALING_MESSAGE,
        fieldPath: '.autoscaling',
      },
    ],
  });

export const TolerationSchema = z
  .object({
    key: z
      .string()
      .max(316)
      .optional()
      .meta({ description: 'Taint key the toleration applies to; empty matches all keys.' }),
    operator: z
      .enum(['Exists', 'Equal'])
      .optional()
      .meta({ description: 'Exists or Equal (the default in Kubernetes).' }),
    value: z.string().max(63).optional().meta({ description: 'Taint value to match (operator Equal).' }),
    effect: z
      .enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])
      .optional()
      .meta({ description: 'Taint effect to match; empty matches all effects.' }),
    tolerationSeconds: z.int().optional().meta({
      description: 'For NoExecute: how long the pod stays bound after the taint appears.',
      format: 'int64',
    }),
  })
  .meta({
    description: 'A Kubernetes toleration (core/v1 Toleration).',
    'x-kubernetes-validations': [
      {
        rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
        message: 'a toleration with operator Exists must not set a value',
      },
    ],
  });

export const ResourceListSchema = z
  .object({
    cpu: quantity('CPU quantity as a string (e.g. "500m", "2").'),
    memory: quantity('Memory quantity as a string (e.g. "512Mi", "4Gi").'),
  })
  .meta({ description: 'CPU and memory quantities.' });

export const ResourcesSchema = z
  .object({
    requests: ResourceListSchema.optional().meta({
      description: 'CPU and memory requests of the server container.',
    }),
    limits: ResourceListSchema.optional().meta({
      description: 'CPU and memory limits of the server container.',
    }),
  })
  .meta({
    description:
      'CPU and memory of the server container (the GPU is requested through serving.gpu, not here).',
    'x-kubernetes-validations': [
      {
        rule: '!has(self.requests) || !has(self.limits) || !has(self.requests.cpu) || !has(self.limits.cpu) || !isQuantity(self.requests.cpu) || !isQuantity(self.limits.cpu) || quantity(self.requests.cpu).compareTo(quantity(self.limits.cpu)) <= 0',
        message: 'requests.cpu must not exceed limits.cpu',
      },
      {
        rule: '!has(self.requests) || !has(self.limits) || !has(self.requests.memory) || !has(self.limits.memory) || !isQuantity(self.requests.memory) || !isQuantity(self.limits.memory) || quantity(self.requests.memory).compareTo(quantity(self.limits.memory)) <= 0',
        message: 'requests.memory must not exceed limits.memory',
      },
    ],
  });

export const GpuSpecSchema = z
  .object({
    resourceName: z.string().min(1).max(253).default(DEFAULT_GPU_RESOURCE).meta({
      description: 'Extended resource name the GPU is requested as (e.g. nvidia.com/gpu, or a MIG profile).',
    }),
    count: z.int().min(0).max(16).default(1).meta({
      description:
        'GPUs per scoring pod. Must be at least 1 when executionProvider is cuda; ignored for cpu.',
    }),
  })
  .meta({ description: 'GPU request of each scoring pod.' });

export const BatchingSpecSchema = z
  .object({
    maxBatchSize: z
      .int()
      .min(1)
      .max(4096)
      .default(64)
      .meta({ description: 'Most requests the server runs through the query tower in one batch.' }),
    maxQueueDelayMicroseconds: z
      .int()
      .min(0)
      .max(1_000_000)
      .default(2000)
      .meta({ description: 'Longest a request waits for a batch to fill, in microseconds (0: no waiting).' }),
  })
  .meta({ description: 'Dynamic batching limits of the scoring server.' });

// core/v1 Affinity, as KServe and Argo Rollouts embed it: the shapes of the core types with tight
// bounds, so the API server refuses a malformed or oversized affinity up front (not a Deployment
// patch later). Unknown fields are pruned, as in any Kubernetes object.
const LabelKey = z.string().min(1).max(316).meta({ description: 'A label key.' });
const LabelValue = z.string().max(63).meta({ description: 'A label value.' });
const SelectorValues = z.array(LabelValue).max(64);

export const LabelSelectorRequirementSchema = z
  .object({
    key: LabelKey.meta({ description: 'Label key the selector applies to.' }),
    operator: z
      .enum(['In', 'NotIn', 'Exists', 'DoesNotExist'])
      .meta({ description: 'In, NotIn, Exists or DoesNotExist.' }),
    values: SelectorValues.optional().meta({
      description: 'Values (In, NotIn); empty for Exists, DoesNotExist.',
    }),
  })
  .meta({ description: 'A label selector requirement (meta/v1 LabelSelectorRequirement).' });

export const LabelSelectorSchema = z
  .object({
    matchLabels: z
      .record(LabelKey, LabelValue)
      .optional()
      .meta({ description: 'Labels a pod must carry.', maxProperties: 32 }),
    matchExpressions: z
      .array(LabelSelectorRequirementSchema)
      .max(16)
      .optional()
      .meta({ description: 'Label requirements, ANDed.' }),
  })
  .meta({ description: 'A label selector (meta/v1 LabelSelector).' });

export const NodeSelectorRequirementSchema = z
  .object({
    key: LabelKey.meta({ description: 'Node label (or field) key.' }),
    operator: z
      .enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'])
      .meta({ description: 'In, NotIn, Exists, DoesNotExist, Gt or Lt.' }),
    values: SelectorValues.optional().meta({ description: 'Values to compare with.' }),
  })
  .meta({ description: 'A node selector requirement (core/v1 NodeSelectorRequirement).' });

export const NodeSelectorTermSchema = z
  .object({
    matchExpressions: z
      .array(NodeSelectorRequirementSchema)
      .max(16)
      .optional()
      .meta({ description: 'Requirements on node labels.' }),
    matchFields: z
      .array(NodeSelectorRequirementSchema)
      .max(16)
      .optional()
      .meta({ description: 'Requirements on node fields (metadata.name).' }),
  })
  .meta({ description: 'Node requirements, ANDed (core/v1 NodeSelectorTerm).' });

export const PodAffinityTermSchema = z
  .object({
    labelSelector: LabelSelectorSchema.optional().meta({ description: 'The pods this term is about.' }),
    namespaceSelector: LabelSelectorSchema.optional().meta({
      description: 'Namespaces (by label) the pods are looked for in.',
    }),
    namespaces: z
      .array(z.string().min(1).max(63).meta({ description: 'A namespace.' }))
      .max(16)
      .optional()
      .meta({ description: "Namespaces (by name) the pods are looked for in; empty: the pod's own." }),
    topologyKey: LabelKey.meta({ description: 'Node label whose value defines the topology domain.' }),
    matchLabelKeys: z
      .array(LabelKey)
      .max(16)
      .optional()
      .meta({ description: "Label keys whose values must match the incoming pod's." }),
    mismatchLabelKeys: z
      .array(LabelKey)
      .max(16)
      .optional()
      .meta({ description: "Label keys whose values must differ from the incoming pod's." }),
  })
  .meta({ description: 'Pods a pod is (anti-)affine to, and where (core/v1 PodAffinityTerm).' });

const Weight = z.int().min(1).max(100).meta({ description: 'Preference weight, 1-100.' });

export const PodAffinitySchema = z
  .object({
    requiredDuringSchedulingIgnoredDuringExecution: z
      .array(PodAffinityTermSchema)
      .max(16)
      .optional()
      .meta({ description: 'Terms every placement must meet.' }),
    preferredDuringSchedulingIgnoredDuringExecution: z
      .array(
        z
          .object({
            weight: Weight,
            podAffinityTerm: PodAffinityTermSchema.meta({ description: 'The preferred term.' }),
          })
          .meta({ description: 'A weighted preference.' }),
      )
      .max(16)
      .optional()
      .meta({ description: 'Terms preferred, by weight.' }),
  })
  .meta({ description: 'Pod affinity or anti-affinity (core/v1 PodAffinity, PodAntiAffinity).' });

export const AffinitySchema = z
  .object({
    nodeAffinity: z
      .object({
        requiredDuringSchedulingIgnoredDuringExecution: z
          .object({
            nodeSelectorTerms: z
              .array(NodeSelectorTermSchema)
              .min(1)
              .max(16)
              .meta({ description: 'Terms, ORed.' }),
          })
          .optional()
          .meta({ description: 'Nodes a pod may only be placed on (core/v1 NodeSelector).' }),
        preferredDuringSchedulingIgnoredDuringExecution: z
          .array(
            z
              .object({
                weight: Weight,
                preference: NodeSelectorTermSchema.meta({ description: 'The preferred nodes.' }),
              })
              .meta({ description: 'A weighted preference.' }),
          )
          .max(16)
          .optional()
          .meta({ description: 'Nodes preferred, by weight.' }),
      })
      .optional()
      .meta({ description: 'Node affinity (core/v1 NodeAffinity).' }),
    podAffinity: PodAffinitySchema.optional().meta({ description: 'Pods to be placed near.' }),
    podAntiAffinity: PodAffinitySchema.optional().meta({ description: 'Pods to be placed away from.' }),
  })
  .meta({
    description:
      'Affinity of the scoring pods (core/v1 Affinity: nodeAffinity, podAffinity, podAntiAffinity).',
  });

export const ServingSpecSchema = z
  .object({
    image: z.string().min(1).max(512).optional().meta({
      description:
        'Image of the server and sync sidecar containers. Defaults to the image the operator is configured with.',
    }),
    executionProvider: z
      .enum(['cuda', 'cpu'])
      .default('cuda')
      .meta({ description: 'ONNX Runtime execution provider: cuda (GPU) or cpu.' }),
    gpu: GpuSpecSchema.default(() => GpuSpecSchema.parse({})),
    nodeSelector: z
      .record(LabelKey, LabelValue)
      .refine((o) => Object.keys(o).length <= 32, 'at most 32 node labels')
      .optional()
      .meta({
        description: 'Node labels a scoring pod requires (core/v1 PodSpec.nodeSelector), at most 32.',
        maxProperties: 32,
      }),
    tolerations: z.array(TolerationSchema).max(32).optional().meta({
      description: 'Tolerations of the scoring pods, e.g. for tainted GPU nodes.',
      'x-kubernetes-list-type': 'atomic',
    }),
    affinity: AffinitySchema.optional(),
    runtimeClassName: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .meta({ description: 'RuntimeClass of the scoring pods (e.g. nvidia).' }),
    resources: ResourcesSchema.optional(),
    batching: BatchingSpecSchema.default(() => BatchingSpecSchema.parse({})),
    autoscaling: AutoscalingSpecSchema.optional().meta({
      description:
        'Default autoscaling of every segment that sets neither replicas nor autoscaling of its own.',
    }),
  })
  .meta({
    description: 'How scoring pods run: image, execution provider, GPU, scheduling, resources, batching.',
    'x-kubernetes-validations': [
      {
        rule: "self.executionProvider != 'cuda' || self.gpu.count > 0",
        message: 'gpu.count must be at least 1 when executionProvider is cuda',
        fieldPath: '.gpu.count',
      },
    ],
  });

// ---- built snapshots (the offline item tower, docs/embed.md) -----------------------------------

const CRON =
  /^(@(yearly|annually|monthly|weekly|daily|hourly)|[0-9*?/,-]+ [0-9*?/,-]+ [0-9*?/,LW-]+ [0-9A-Za-z*?/,-]+ [0-9A-Za-z*?/,L#-]+)$/;
const CRON_MESSAGE =
  'must be a cron schedule of five fields (minute hour day-of-month month day-of-week, e.g. "0 3 * * *") or @hourly, @daily, @weekly, @monthly, @yearly';
const COLUMN = z.string().min(1).max(128).meta({ description: 'A Parquet column name.' });
export const MAX_BUILD_SHARDS = 1000;

export const CatalogueSchema = z
  .object({
    uri: matching(
      z.string().min(1).max(1024),
      URI,
      URI_MESSAGE,
      'Storage prefix of the item catalogue: the Parquet files (*.parquet) under it, one row per item. file://, http://, https:// or s3://.',
    ),
    files: z
      .array(z.string().min(1).max(512).meta({ description: 'A file name relative to the prefix.' }))
      .min(1)
      .max(10000)
      .optional()
      .meta({
        description:
          'The catalogue files, relative to uri. Optional for s3:// and file:// (every *.parquet under the prefix is read); required for http(s)://, which has no listing.',
        'x-kubernetes-list-type': 'atomic',
      }),
    idColumn: COLUMN.default('id').meta({
      description: 'Column of the item ids (INT64, read as unsigned 64-bit).',
    }),
    denseColumns: z.array(COLUMN).max(1024).optional().meta({
      description:
        "Dense feature columns (FLOAT/DOUBLE), in the item tower's input order. Default: dense_0 … dense_<n-1>, n from the tower's metadata.",
      'x-kubernetes-list-type': 'atomic',
    }),
    categoricalColumns: z.array(COLUMN).max(1024).optional().meta({
      description:
        "Categorical feature columns (INT32/INT64), in the item tower's input order. Default: cat_0 … cat_<n-1>, n from the tower's metadata.",
      'x-kubernetes-list-type': 'atomic',
    }),
  })
  .meta({
    description: 'The item catalogue a built snapshot is made from: Parquet files in storage.',
    'x-kubernetes-validations': [
      {
        rule: "!self.uri.startsWith('http') || has(self.files)",
        message: 'files is required for an http(s):// catalogue (HTTP storage cannot be listed)',
        fieldPath: '.files',
      },
    ],
  });

/** The pods of a build: the serving fields that say where and how a pod runs (batching aside). */
export const BuildPodsSchema = ServingSpecSchema.omit({ batching: true }).meta({
  description:
    "How the build's pods run: image (default: the scoring image), execution provider, GPU, scheduling and resources, with the same fields and rules as spec.serving.",
  'x-kubernetes-validations': [
    {
      rule: "self.executionProvider != 'cuda' || self.gpu.count > 0",
      message: 'gpu.count must be at least 1 when executionProvider is cuda',
      fieldPath: '.gpu.count',
    },
  ],
});

export const SnapshotBuildSchema = z
  .object({
    catalogue: CatalogueSchema,
    schedule: matching(
      z.string().min(1).max(128),
      CRON,
      CRON_MESSAGE,
      'Rebuild on this cron schedule (UTC), with the current item tower: each run publishes a new version that the sidecars pick up.',
    ).optional(),
    onModelChange: z.boolean().default(true).meta({
      description:
        'Build when the item tower changes (a new tower pair): the snapshot is built and published before the canary of the new query tower starts.',
    }),
    shards: z
      .int()
      .min(1)
      .max(MAX_BUILD_SHARDS)
      .default(1)
      .meta({ description: 'Shards of the catalogue: completion indexes of the build Job, one part each.' }),
    parallelism: z
      .int()
      .min(1)
      .max(MAX_BUILD_SHARDS)
      .optional()
      .meta({ description: "Shards run at once (the Job's parallelism). Default: all of them." }),
    backoffLimitPerIndex: z.int().min(0).max(10).default(2).meta({
      description: 'Retries of one failed shard (its index alone is retried); past this the build fails.',
    }),
    env: z
      .array(
        z
          .object({
            name: matching(
              z.string().min(1).max(128),
              /^[A-Za-z_][A-Za-z0-9_]*$/,
              'must be an environment variable name: letters, digits and _, not starting with a digit',
              'Variable name.',
            ),
            value: z.string().max(4096).meta({ description: 'Value.' }),
          })
          .meta({ description: 'An environment variable of the build pods.' }),
      )
      .max(32)
      .optional()
      .meta({
        description:
          'Environment of the build pods: storage settings such as AWS_ENDPOINT_URL_S3, AWS_REGION or LIGHTRANK_S3_FORCE_PATH_STYLE. Not for secrets (the values are stored in the spec): those go in snapshot.credentials.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      }),
    pods: BuildPodsSchema.optional().meta({
      description:
        "The build pods' image, execution provider, GPU, scheduling and resources. Default: spec.serving's.",
    }),
  })
  .refine((b) => b.parallelism === undefined || b.parallelism <= b.shards, {
    message: 'parallelism must not exceed shards',
    path: ['parallelism'],
  })
  .refine((b) => b.schedule !== undefined || b.onModelChange, {
    message: 'a build needs a schedule or onModelChange: true (otherwise it never runs)',
  })
  .meta({
    description:
      "Build the snapshot on the cluster: the item tower runs over the catalogue in an Indexed Job (one shard per index), and the parts are published under the snapshot's uri as one version, LATEST moved last.",
    'x-kubernetes-validations': [
      {
        rule: '!has(self.parallelism) || self.parallelism <= self.shards',
        message: 'parallelism must not exceed shards',
        fieldPath: '.parallelism',
      },
      {
        rule: 'has(self.schedule) || !has(self.onModelChange) || self.onModelChange',
        message: 'a build needs a schedule or onModelChange: true (otherwise it never runs)',
      },
    ],
  });

export const RolloutStepSchema = z
  .object({
    weight: z
      .int()
      .min(1)
      .max(100)
      .meta({ description: 'Percent of the segment traffic sent to the canary during this step (1-100).' }),
    pauseSeconds: z
      .int()
      .min(0)
      .max(86400)
      .default(60)
      .meta({ description: 'How long the step is held (and analysed) before moving on, in seconds.' }),
  })
  .meta({ description: 'One canary step.' });

export const AnalysisSpecSchema = z
  .object({
    prometheusAddress: matching(
      z.string().max(512),
      HTTP_URL,
      'must be an http:// or https:// URL',
      'Base URL of the Prometheus that scrapes the scoring pods (e.g. http://prometheus.monitoring:9090).',
    ),
    intervalSeconds: z
      .int()
      .min(5)
      .max(3600)
      .default(30)
      .meta({ description: 'How often canary and stable are compared during a step, in seconds.' }),
    maxErrorRate: z
      .number()
      .min(0)
      .max(1)
      .default(0.01)
      .meta({ description: 'Highest canary error ratio (5xx / all requests) that passes, 0-1.' }),
    maxP99LatencyMs: z
      .number()
      .min(0)
      .max(60000)
      .default(50)
      .meta({ description: 'Highest canary p99 request latency that passes, in milliseconds.' }),
    maxScoreDivergence: z.number().min(0).max(10).default(0.2).meta({
      description:
        'Highest Population Stability Index (PSI) between the canary and stable score distributions (per task, from lightrank_server_score buckets) that passes. 0.1: minor shift, 0.25: major shift.',
    }),
    minSamples: z.int().min(1).max(1_000_000).default(100).meta({
      description:
        'Requests the canary must have served in the window before a verdict; fewer is inconclusive.',
    }),
  })
  .meta({ description: 'Canary analysis: thresholds the canary must meet, measured from Prometheus.' });

export const DEFAULT_ROLLOUT_STEPS = [
  { weight: 10, pauseSeconds: 60 },
  { weight: 50, pauseSeconds: 60 },
  { weight: 100, pauseSeconds: 0 },
];

export const RolloutSpecSchema = z
  .object({
    steps: z
      .array(RolloutStepSchema)
      .min(1)
      .max(MAX_ROLLOUT_STEPS)
      .superRefine((steps, ctx) => {
        steps.forEach((s, i) => {
          const prev = steps[i - 1];
          if (prev && s.weight <= prev.weight)
            ctx.addIssue({
              code: 'custom',
              message: 'step weights must be strictly ascending',
              path: [i, 'weight'],
            });
        });
        if (steps.at(-1)?.weight !== 100)
          ctx.addIssue({ code: 'custom', message: 'the last step must have weight 100' });
      })
      .default(DEFAULT_ROLLOUT_STEPS)
      .meta({
        description:
          'Canary steps: traffic weights, strictly ascending, the last one 100 (then the canary is promoted to stable).',
        'x-kubernetes-list-type': 'atomic',
        'x-kubernetes-validations': [
          {
            rule: 'self.map(s, s.weight).isSorted() && self.all(s, self.exists_one(t, t.weight == s.weight))',
            message: 'step weights must be strictly ascending',
          },
          { rule: 'self[self.size() - 1].weight == 100', message: 'the last step must have weight 100' },
        ],
      }),
    analysis: AnalysisSpecSchema.optional().meta({
      description: 'Canary analysis. Without it, steps advance on their pauses and pod readiness only.',
    }),
    autoRollback: z
      .boolean()
      .default(true)
      .meta({ description: 'Roll back automatically when analysis fails or the progress deadline passes.' }),
    progressDeadlineSeconds: z.int().min(30).max(86400).default(600).meta({
      description:
        'Longest a rollout step may wait for the canary to become ready before it fails, in seconds.',
    }),
    scaleDownDelaySeconds: z.int().min(0).max(3600).default(30).meta({
      description:
        'After a promotion or rollback, how long the canary Deployment (and its Service) is kept once routing sends it no more traffic, in seconds. Routers pick up a new table seconds after it is written (ConfigMap volume refresh, then their poll); removing the canary sooner would fail the requests still sent to it. 0 removes it at once.',
    }),
  })
  .meta({ description: 'How a new model version is rolled out: canary steps, analysis, rollback.' });

export const ParentRefSchema = z
  .object({
    group: z
      .string()
      .max(253)
      .default('gateway.networking.k8s.io')
      .meta({ description: 'API group of the parent.' }),
    kind: z.string().max(63).default('Gateway').meta({ description: 'Kind of the parent.' }),
    namespace: z
      .string()
      .max(63)
      .optional()
      .meta({ description: 'Namespace of the parent; defaults to the RankingModel’s.' }),
    name: z.string().min(1).max(253).meta({ description: 'Name of the parent Gateway.' }),
    sectionName: z.string().max(253).optional().meta({ description: 'Listener of the parent to attach to.' }),
    port: z.int().min(1).max(65535).optional().meta({ description: 'Port of the parent to attach to.' }),
  })
  .meta({ description: 'A Gateway API parentRef the generated HTTPRoutes attach to.' });

const ROUTER_SCOPE_MESSAGE =
  'routerScope namespace needs mode router: in gatewayAPI mode the HTTPRoutes route each model, there is no router to share';

export const RoutingSpecSchema = z
  .object({
    mode: z.enum(['router', 'gatewayAPI']).default('router').meta({
      description:
        'router: the lightrank router Deployment splits traffic; gatewayAPI: HTTPRoutes with header matches and weighted backends.',
    }),
    headerName: matching(
      z.string().max(63),
      HEADER_NAME,
      'must be a lowercase HTTP header name',
      'Request header whose value selects the segment (lowercase).',
    ).default(DEFAULT_SEGMENT_HEADER),
    parentRefs: z.array(ParentRefSchema).max(8).optional().meta({
      description: 'Gateways the HTTPRoutes attach to (required in gatewayAPI mode).',
      'x-kubernetes-list-type': 'atomic',
    }),
    routerScope: z.enum(['model', 'namespace']).default('model').meta({
      description:
        "router mode only. model: the model's own router (Deployment and Service <name>-router); namespace: the router every namespace-scope model of the namespace shares (Deployment and Service lightrank, one table file per model). Callers send /v2/models/<name>/... to http://<name>-router.<namespace>.svc:8080 or http://lightrank.<namespace>.svc:8080 (status.url).",
    }),
  })
  .superRefine((r, ctx) => {
    if (r.mode !== 'router' && r.routerScope === 'namespace')
      ctx.addIssue({ code: 'custom', message: ROUTER_SCOPE_MESSAGE, path: ['routerScope'] });
  })
  .meta({
    description: 'How traffic reaches the segments.',
    'x-kubernetes-validations': [
      {
        rule: "self.mode != 'gatewayAPI' || (has(self.parentRefs) && self.parentRefs.size() > 0)",
        message: 'parentRefs are required when mode is gatewayAPI',
        fieldPath: '.parentRefs',
      },
      {
        rule: "self.mode == 'router' || !has(self.routerScope) || self.routerScope == 'model'",
        message: ROUTER_SCOPE_MESSAGE,
        fieldPath: '.routerScope',
      },
    ],
  });

/** Effective header values of a segment in CEL: the explicit ones, else the segment name. */
const celHeaderValues = (v: string) =>
  `(has(${v}.match) && has(${v}.match.headerValues) ? ${v}.match.headerValues : [${v}.name])`;

const BUILD_NEEDS_ITEM_TOWER =
  "a segment whose snapshot is built (snapshot.build) needs its model's itemTower (the tower the build runs)";

export const RankingModelSpecSchema = z
  .object({
    model: ModelRefSchema.optional().meta({
      description: 'Default model of every segment. Required unless every segment sets its own model.',
    }),
    snapshot: SnapshotSourceSchema.optional().meta({
      description: 'Default snapshot source of every segment. Required unless every segment sets its own.',
    }),
    segments: z
      .array(SegmentSpecSchema)
      .min(1)
      .max(MAX_SEGMENTS)
      .superRefine((segments, ctx) => {
        const seen = new Map<string, string>();
        segments.forEach((s, i) => {
          if (segments.findIndex((t) => t.name === s.name) !== i)
            ctx.addIssue({
              code: 'custom',
              message: `segment name ${s.name} is used twice`,
              path: [i, 'name'],
            });
          for (const v of s.match.headerValues ?? [s.name]) {
            const owner = seen.get(v);
            if (owner !== undefined && owner !== s.name)
              ctx.addIssue({
                code: 'custom',
                message: `header value ${v} selects both ${owner} and ${s.name}`,
                path: [i, 'match', 'headerValues'],
              });
            seen.set(v, s.name);
          }
        });
        if (segments.filter((s) => s.match.default).length > 1)
          ctx.addIssue({ code: 'custom', message: 'at most one segment may be the default' });
      })
      .meta({
        description: 'Traffic segments; each gets its own Deployment, Service, model and snapshot.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        'x-kubernetes-validations': [
          {
            rule: 'self.all(s, self.exists_one(t, t.name == s.name))',
            message: 'segment names must be unique',
          },
          {
            rule: 'self.filter(s, has(s.match) && has(s.match.default) && s.match.default).size() <= 1',
            message: 'at most one segment may be the default (match.default: true)',
          },
          {
            rule: `self.all(a, self.all(b, a.name == b.name || !${celHeaderValues('a')}.exists(v, v in ${celHeaderValues('b')})))`,
            message:
              'a header value may select only one segment (match.headerValues defaults to the segment name)',
          },
        ],
      }),
    serving: ServingSpecSchema.default(() => ServingSpecSchema.parse({})),
    rollout: RolloutSpecSchema.default(() => RolloutSpecSchema.parse({})),
    routing: RoutingSpecSchema.default(() => RoutingSpecSchema.parse({})),
  })
  .superRefine((spec, ctx) => {
    spec.segments.forEach((s, i) => {
      if (!spec.model && !s.model)
        ctx.addIssue({
          code: 'custom',
          message: 'spec.model or segments[].model is required',
          path: ['segments', i, 'model'],
        });
      if (!spec.snapshot && !s.snapshot)
        ctx.addIssue({
          code: 'custom',
          message: 'spec.snapshot or segments[].snapshot is required',
          path: ['segments', i, 'snapshot'],
        });
      if ((s.snapshot ?? spec.snapshot)?.build && !(s.model ?? spec.model)?.itemTower)
        ctx.addIssue({ code: 'custom', message: BUILD_NEEDS_ITEM_TOWER, path: ['segments', i, 'model'] });
    });
    const cpu = [spec.serving.autoscaling, ...spec.segments.map((s) => s.autoscaling)].some(
      (a) => a?.metric === 'cpuUtilization',
    );
    if (cpu && spec.serving.resources?.requests?.cpu === undefined)
      ctx.addIssue({
        code: 'custom',
        message: CPU_REQUEST_MESSAGE,
        path: ['serving', 'resources', 'requests', 'cpu'],
      });
  })
  .meta({
    description: 'Desired state of a RankingModel.',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.model) || self.segments.all(s, has(s.model))',
        message: 'spec.model is required unless every segment sets its own model',
        fieldPath: '.model',
      },
      {
        rule: 'has(self.snapshot) || self.segments.all(s, has(s.snapshot))',
        message: 'spec.snapshot is required unless every segment sets its own snapshot',
        fieldPath: '.snapshot',
      },
      {
        rule: 'self.segments.all(s, !(has(s.snapshot) ? has(s.snapshot.build) : has(self.snapshot) && has(self.snapshot.build)) || (has(s.model) ? has(s.model.itemTower) : has(self.model) && has(self.model.itemTower)))',
        message: BUILD_NEEDS_ITEM_TOWER,
        fieldPath: '.segments',
      },
      { rule: CPU_REQUEST_RULE, message: CPU_REQUEST_MESSAGE },
    ],
  });

// ---- status -------------------------------------------------------------------------------------

const Time = z.iso.datetime({ offset: true }).meta({ format: 'date-time' });

export const ConditionSchema = z
  .object({
    type: z
      .string()
      .min(1)
      .max(316)
      .meta({ description: 'Condition type: Ready, Progressing, Degraded, SnapshotsInSync, ScaleLimited.' }),
    status: z.enum(['True', 'False', 'Unknown']).meta({ description: 'True, False or Unknown.' }),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'metadata.generation the condition was computed from.' }),
    lastTransitionTime: Time.meta({ description: 'When the status last changed.' }),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .meta({ description: 'CamelCase machine-readable reason for the last transition.' }),
    message: z.string().max(32768).meta({ description: 'Human-readable details.' }),
  })
  .meta({ description: 'A condition, shaped like metav1.Condition.' });

export const AnalysisResultSchema = z
  .object({
    result: z
      .enum(['Passed', 'Failed', 'Inconclusive'])
      .meta({ description: 'Passed, Failed, or Inconclusive (not enough samples, Prometheus unreachable).' }),
    message: z
      .string()
      .max(4096)
      .meta({ description: 'Measured values against thresholds, or why there is no verdict.' }),
    time: Time.meta({ description: 'When the analysis ran.' }),
    reason: z.enum(['AnalysisUnavailable']).optional().meta({
      description:
        'AnalysisUnavailable when the verdict is Inconclusive because Prometheus could not be queried (unreachable, an error answer).',
    }),
  })
  .meta({ description: 'Outcome of the latest canary analysis of a segment.' });

export const ROLLOUT_PHASES = ['Stable', 'Progressing', 'RolledBack'] as const;

export const BUILD_PHASES = ['Building', 'Publishing', 'Published', 'Failed'] as const;

export const SnapshotBuildStatusSchema = z
  .object({
    version: z.string().max(253).meta({ description: 'Snapshot version the build makes.' }),
    towerFingerprint: z
      .string()
      .max(128)
      .meta({ description: 'Fingerprint of the tower pair whose item tower the build runs.' }),
    itemTowerSha256: z.string().max(64).meta({ description: 'SHA-256 of the item tower the build runs.' }),
    trigger: z
      .enum(['ModelChange', 'Schedule'])
      .meta({ description: 'ModelChange (a new item tower) or Schedule (a rebuild of the current one).' }),
    phase: z.enum(BUILD_PHASES).meta({
      description:
        'Building (shards running), Publishing (all shards done, the publish step running), Published (LATEST names the version) or Failed (LATEST unmoved).',
    }),
    job: z
      .string()
      .max(253)
      .meta({ description: 'Name of the build Job (the publish Job is <job>-publish).' }),
    shards: z.int().min(1).max(MAX_BUILD_SHARDS).meta({ description: 'Shards of the build.' }),
    shardsDone: z
      .int()
      .min(0)
      .max(MAX_BUILD_SHARDS)
      .default(0)
      .meta({ description: 'Shards that succeeded.' }),
    itemsDone: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Items embedded by the shards that succeeded (each reports its count).' }),
    itemsPerSecond: z.int().min(0).optional().meta({
      description:
        "itemsDone over the seconds since startTime: the build's throughput counting finished shards only (a running shard's items count when it finishes).",
    }),
    startTime: Time.meta({ description: 'When the build Job was created.' }),
    completionTime: Time.optional().meta({
      description: 'When the version was published or the build failed.',
    }),
    message: z
      .string()
      .max(4096)
      .optional()
      .meta({ description: 'Why the build failed (the shard and its cause), or its progress.' }),
  })
  .meta({ description: 'The latest snapshot build of a segment (spec.snapshot.build).' });

export const SegmentStatusSchema = z
  .object({
    name: z.string().max(40).meta({ description: 'Segment name.' }),
    replicas: z.int().min(0).max(100_000).default(0).meta({ description: 'Desired stable replicas.' }),
    readyReplicas: z
      .int()
      .min(0)
      .max(100_000)
      .default(0)
      .meta({ description: 'Ready replicas of the stable track (canary pods are not counted).' }),
    currentReplicas: z.int().min(0).max(100_000).optional().meta({
      description:
        'Autoscaled segments: pods the stable Deployment has now (replicas is what its autoscaler asks for).',
    }),
    autoscaler: z.string().max(253).optional().meta({
      description:
        'Autoscaled segments: the HorizontalPodAutoscaler or KEDA ScaledObject (kind/name) that sets replicas.',
    }),
    stableVersion: z
      .string()
      .max(63)
      .optional()
      .meta({ description: 'Model version serving the stable track.' }),
    canaryVersion: z
      .string()
      .max(63)
      .optional()
      .meta({ description: 'Model version of the canary, during a rollout.' }),
    canaryWeight: z
      .int()
      .min(0)
      .max(100)
      .default(0)
      .meta({ description: 'Percent of segment traffic sent to the canary.' }),
    rolloutPhase: z.enum(ROLLOUT_PHASES).default('Stable').meta({
      description: 'Stable (no rollout), Progressing (canary in flight) or RolledBack (last rollout failed).',
    }),
    rolloutStep: z
      .int()
      .min(0)
      .max(MAX_ROLLOUT_STEPS - 1)
      .optional()
      .meta({ description: 'Index into spec.rollout.steps of the current step, during a rollout.' }),
    stepStartTime: Time.optional().meta({ description: 'When the current rollout step started.' }),
    canaryScaleDownAt: Time.optional().meta({
      description:
        'When the canary Deployment of a finished rollout (promoted or rolled back) is removed: spec.rollout.scaleDownDelaySeconds after routing stopped sending it traffic.',
    }),
    snapshotVersion: z
      .string()
      .max(253)
      .optional()
      .meta({ description: 'Embedding snapshot version being served.' }),
    snapshotTime: Time.optional().meta({
      description: 'Creation time of the served snapshot (its age is now minus this).',
    }),
    lastAnalysis: AnalysisResultSchema.optional(),
    snapshotBuild: SnapshotBuildStatusSchema.optional(),
  })
  .meta({ description: 'Observed state of one segment.' });

export const PHASES = ['Pending', 'Ready', 'Progressing', 'Degraded', 'Failed'] as const;

export const RankingModelStatusSchema = z
  .object({
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'metadata.generation the operator last acted on.' }),
    phase: z.enum(PHASES).optional().meta({
      description:
        'Summary: Pending (not ready yet), Ready, Progressing (rollout in flight), Degraded (serving but unhealthy or rolled back), Failed (invalid spec).',
    }),
    readySegments: z
      .string()
      .max(16)
      .optional()
      .meta({ description: 'Ready segments / all segments, e.g. "2/2" (printer column).' }),
    modelVersion: z.string().max(128).optional().meta({
      description: 'Stable model version(s) served, comma-separated when segments differ (printer column).',
    }),
    url: z.string().max(512).optional().meta({
      description:
        "Where callers in the cluster send the model's requests in routing mode router: its router's Service (http://<name>-router.<namespace>.svc:8080), or with routerScope namespace the namespace's shared one (http://lightrank.<namespace>.svc:8080); the paths name the model (/v2/models/<name>/..., /v1/models/<name>/...). Absent in mode gatewayAPI, whose address is the Gateway's (printer column, -o wide).",
    }),
    rolloutPhase: z.enum(ROLLOUT_PHASES).optional().meta({
      description:
        'Progressing if any segment is rolling out, else RolledBack if any rolled back, else Stable.',
    }),
    canary: z.string().max(1024).optional().meta({
      description:
        'Canary version @ weight of each segment rolling out, e.g. "v2@20%" (named "standard=v2@20%" when the model has several segments; printer column).',
    }),
    step: z.string().max(1024).optional().meta({
      description: 'Rollout step / steps of each segment rolling out, e.g. "2/3" (printer column).',
    }),
    analysis: z.string().max(1024).optional().meta({
      description: 'Latest analysis verdict of each segment rolling out (printer column, -o wide).',
    }),
    scale: z.string().max(1024).optional().meta({
      description:
        'Desired/current stable pods of each segment, e.g. "standard=4/2,shopping=1/1" (just "4/2" for one segment); an autoscaled segment\'s desired count is its autoscaler\'s (printer column, -o wide).',
    }),
    reason: z.string().max(1024).optional().meta({
      description:
        "Reason of the condition behind the phase: Degraded's when Degraded, else Progressing's (printer column, -o wide).",
    }),
    conditions: z
      .array(ConditionSchema)
      .max(16)
      .optional()
      .meta({
        description:
          'Conditions: Ready, Progressing, Degraded, SnapshotsInSync, and ScaleLimited for autoscaled segments.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    segments: z
      .array(SegmentStatusSchema)
      .max(MAX_SEGMENTS)
      .optional()
      .meta({
        description: 'Per-segment state.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      }),
  })
  .meta({ description: 'Observed state of a RankingModel, written by the operator.' });

// ---- the whole object ---------------------------------------------------------------------------

export const ObjectMetaSchema = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.union([z.string(), z.date()]).optional(),
  deletionTimestamp: z.union([z.string(), z.date()]).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

/**
 * The longest `metadata.name` + segment name: the operator names a segment's Service
 * `<name>-<segment>` and its canary Deployment `<name>-<segment>-canary`, within the 63 characters
 * of a DNS label.
 */
export const MAX_NAME_PLUS_SEGMENT = 63 - '-'.length - '-canary'.length;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const NAME_MESSAGE =
  "metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter): it prefixes the Service names";
const LENGTH_MESSAGE = `metadata.name and each segment name together must not exceed ${MAX_NAME_PLUS_SEGMENT} characters: they make up the Service and Deployment names`;

/** Rules on the whole object (the CRD's root), where metadata.name meets the segment names. */
export const RANKING_MODEL_RULES = [
  {
    rule: `self.metadata.name.matches('${DNS1035_LABEL.source}')`,
    message: NAME_MESSAGE,
  },
  {
    rule: `self.spec.segments.all(s, size(self.metadata.name) + size(s.name) <= ${MAX_NAME_PLUS_SEGMENT})`,
    message: LENGTH_MESSAGE,
    fieldPath: '.spec.segments',
  },
];

/** A whole RankingModel as read from the API server (metadata is passed through). */
export const RankingModelSchema = z
  .object({
    apiVersion: z.literal(API_GROUP_VERSION),
    kind: z.literal(KIND),
    metadata: ObjectMetaSchema,
    spec: RankingModelSpecSchema,
    status: RankingModelStatusSchema.optional(),
  })
  .superRefine((rm, ctx) => {
    const name = rm.metadata.name;
    if (!DNS1035_LABEL.test(name))
      ctx.addIssue({ code: 'custom', message: NAME_MESSAGE, path: ['metadata', 'name'] });
    rm.spec.segments.forEach((s, i) => {
      if (name.length + s.name.length > MAX_NAME_PLUS_SEGMENT)
        ctx.addIssue({ code: 'custom', message: LENGTH_MESSAGE, path: ['spec', 'segments', i, 'name'] });
    });
  });

export type ModelRef = z.infer<typeof ModelRefSchema>;
export type SnapshotSource = z.infer<typeof SnapshotSourceSchema>;
export type ItemTowerRef = z.infer<typeof ItemTowerRefSchema>;
export type Catalogue = z.infer<typeof CatalogueSchema>;
export type SnapshotBuild = z.infer<typeof SnapshotBuildSchema>;
export type StorageCredentials = z.infer<typeof StorageCredentialsSchema>;
export type BuildPods = z.infer<typeof BuildPodsSchema>;
export type SegmentMatch = z.infer<typeof SegmentMatchSchema>;
export type SegmentSpec = z.infer<typeof SegmentSpecSchema>;
export type Toleration = z.infer<typeof TolerationSchema>;
export type Resources = z.infer<typeof ResourcesSchema>;
export type GpuSpec = z.infer<typeof GpuSpecSchema>;
export type BatchingSpec = z.infer<typeof BatchingSpecSchema>;
export type ServingSpec = z.infer<typeof ServingSpecSchema>;
export type RolloutStep = z.infer<typeof RolloutStepSchema>;
export type AnalysisSpec = z.infer<typeof AnalysisSpecSchema>;
export type RolloutSpec = z.infer<typeof RolloutSpecSchema>;
export type ParentRef = z.infer<typeof ParentRefSchema>;
export type RoutingSpec = z.infer<typeof RoutingSpecSchema>;
export type RankingModelSpec = z.infer<typeof RankingModelSpecSchema>;
/** A spec as a person writes it (defaults not yet filled in). */
export type RankingModelSpecInput = z.input<typeof RankingModelSpecSchema>;
export type Condition = z.infer<typeof ConditionSchema>;
export type AnalysisResult = z.infer<typeof AnalysisResultSchema>;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];
export type Phase = (typeof PHASES)[number];
export type SegmentStatus = z.infer<typeof SegmentStatusSchema>;
export type SnapshotBuildStatus = z.infer<typeof SnapshotBuildStatusSchema>;
export type BuildPhase = (typeof BUILD_PHASES)[number];
export type RankingModelStatus = z.infer<typeof RankingModelStatusSchema>;
export type RankingModel = z.infer<typeof RankingModelSchema>;
