// Generates the RankingModel CustomResourceDefinition from the zod schema in rankingmodel.ts:
// zod's JSON Schema output, post-processed into a *structural* OpenAPI v3 schema as the API server
// requires (a type on every node, no additionalProperties:false, int formats, preserve-unknown-fields
// markers, patterns replaced by the CEL rules that carry human messages).
import { z } from 'zod';
import { stringify } from 'yaml';
import {
  API_GROUP,
  API_VERSION,
  CATEGORIES,
  KIND,
  PLURAL,
  RANKING_MODEL_RULES,
  RankingModelSpecSchema,
  RankingModelStatusSchema,
  SHORT_NAMES,
  SINGULAR,
} from './rankingmodel.js';

/** The subset of an OpenAPI v3 schema node the CRD uses. */
export interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  anyOf?: SchemaNode[];
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-validations'?: { rule: string; message: string; fieldPath?: string }[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  [key: string]: unknown;
}

export const CRD_NAME = `${PLURAL}.${API_GROUP}`;
export const CRD_FILE = `crds/${API_GROUP}_${PLURAL}.yaml`;

const INT32_MAX = 2 ** 31 - 1;
/** Key order in the output, for a readable file; keys not listed follow in their own order. */
const KEY_ORDER = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'pattern',
  'anyOf',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-validations',
  'required',
  'items',
  'additionalProperties',
  'properties',
];

function orderKeys(node: SchemaNode): SchemaNode {
  const rank = (k: string) => (KEY_ORDER.includes(k) ? KEY_ORDER.indexOf(k) : KEY_ORDER.length);
  return Object.fromEntries(Object.entries(node).sort(([a], [b]) => rank(a) - rank(b))) as SchemaNode;
}

/** Turns one zod JSON Schema node (and its children) into a structural CRD schema node. */
export function toStructural(input: SchemaNode, path = ''): SchemaNode {
  const node: SchemaNode = { ...input };
  delete node.$schema;
  delete node.propertyNames;
  if (node.additionalProperties === false) delete node.additionalProperties;

  if (node.anyOf)
    throw new Error(`${path || '<root>'}: unions are not structural schemas; restructure the field`);

  if (node['x-kubernetes-preserve-unknown-fields']) {
    delete node.additionalProperties;
    if (node.properties && Object.keys(node.properties).length === 0) delete node.properties;
  }
  if (node.type === 'integer') {
    if (node.minimum !== undefined && node.minimum <= Number.MIN_SAFE_INTEGER) delete node.minimum;
    const unbounded = node.maximum === undefined || node.maximum >= Number.MAX_SAFE_INTEGER;
    if (node.maximum !== undefined && node.maximum >= Number.MAX_SAFE_INTEGER) delete node.maximum;
    node.format ??= unbounded || (node.maximum ?? 0) > INT32_MAX ? 'int64' : 'int32';
  }
  if (node.format === 'date-time') delete node.pattern;
  // A pattern mirrored by a CEL `matches` rule: the rule carries the message people read.
  if (node.pattern && node['x-kubernetes-validations']?.some((v) => v.rule.includes('self.matches('))) {
    delete node.pattern;
  }
  if (!node.type) throw new Error(`${path || '<root>'}: every node of a structural schema needs a type`);
  if (node.description === undefined && path !== '') {
    throw new Error(`${path}: every field needs a description (zod .meta({ description }))`);
  }

  if (node.properties) {
    node.properties = Object.fromEntries(
      Object.entries(node.properties).map(([k, v]) => [k, toStructural(v, `${path}.${k}`)]),
    );
  }
  if (node.items) node.items = toStructural(node.items, `${path}[]`);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    const ap = toStructural({ description: 'A value.', ...node.additionalProperties }, `${path}{}`);
    node.additionalProperties = ap;
  }
  return orderKeys(node);
}

function jsonSchemaOf(schema: z.ZodType): SchemaNode {
  return z.toJSONSchema(schema, {
    io: 'input',
    target: 'openapi-3.0',
    unrepresentable: 'throw',
  }) as SchemaNode;
}

/** The openAPIV3Schema of the RankingModel version. */
export function rankingModelOpenAPISchema(): SchemaNode {
  return {
    description:
      'RankingModel serves a two-tower ranking model on GPUs: per traffic segment, scoring pods with the query tower and an embedding snapshot kept fresh, routed by a request header, with canary rollouts of new model versions.',
    type: 'object',
    required: ['spec'],
    'x-kubernetes-validations': RANKING_MODEL_RULES,
    properties: {
      apiVersion: {
        description: 'Versioned schema of this object: lightrank.dev/v1alpha1.',
        type: 'string',
      },
      kind: { description: 'RankingModel.', type: 'string' },
      metadata: { type: 'object' },
      spec: toStructural(jsonSchemaOf(RankingModelSpecSchema), '.spec'),
      status: toStructural(jsonSchemaOf(RankingModelStatusSchema), '.status'),
    },
  };
}

/** The CustomResourceDefinition object. */
export function rankingModelCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'lightrank', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group: API_GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: SHORT_NAMES,
        categories: CATEGORIES,
      },
      scope: 'Namespaced',
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          // like Argo Rollouts': what a person asks first (ready, which versions, where the canary
          // is); -o wide adds the rollout phase, the analysis verdict and the reason of the phase
          additionalPrinterColumns: [
            {
              name: 'Ready',
              type: 'string',
              description: 'Ready segments / all segments',
              jsonPath: '.status.readySegments',
            },
            {
              name: 'Stable',
              type: 'string',
              description: 'Stable model version(s)',
              jsonPath: '.status.modelVersion',
            },
            {
              name: 'Canary',
              type: 'string',
              description: 'Canary version @ weight of each segment rolling out',
              jsonPath: '.status.canary',
            },
            {
              name: 'Step',
              type: 'string',
              description: 'Rollout step / steps of each segment rolling out',
              jsonPath: '.status.step',
            },
            { name: 'Phase', type: 'string', description: 'Overall phase', jsonPath: '.status.phase' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            {
              name: 'Rollout',
              type: 'string',
              description: 'Stable, Progressing or RolledBack',
              jsonPath: '.status.rolloutPhase',
              priority: 1,
            },
            {
              name: 'Analysis',
              type: 'string',
              description: 'Latest analysis verdict of each segment rolling out',
              jsonPath: '.status.analysis',
              priority: 1,
            },
            {
              name: 'Scale',
              type: 'string',
              description:
                'Desired/current stable pods per segment (desired: the autoscaler’s, when autoscaled)',
              jsonPath: '.status.scale',
              priority: 1,
            },
            {
              name: 'URL',
              type: 'string',
              description: 'Where callers in the cluster send requests (routing mode router)',
              jsonPath: '.status.url',
              priority: 1,
            },
            {
              name: 'Reason',
              type: 'string',
              description: 'Reason of the condition behind the phase',
              jsonPath: '.status.reason',
              priority: 1,
            },
          ],
          schema: { openAPIV3Schema: rankingModelOpenAPISchema() },
        },
      ],
    },
  };
}

/** The CRD as the YAML file checked in under crds/. */
export function rankingModelCrdYaml(): string {
  const header =
    '# Generated by scripts/gen-crd.ts from api/rankingmodel.ts (npm run gen). Do not edit by hand.\n';
  return header + stringify(rankingModelCrd(), { lineWidth: 0 });
}
