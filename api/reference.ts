// Renders docs/reference.md, the RankingModel field reference, from the generated CRD schema (so
// the page, `kubectl explain` and the API server's validation all say the same thing).
import { API_GROUP_VERSION, CATEGORIES, KIND, SHORT_NAMES } from './rankingmodel.js';
import { rankingModelCrd, rankingModelOpenAPISchema, type SchemaNode } from './crd.js';

function typeOf(node: SchemaNode): string {
  if (node['x-kubernetes-preserve-unknown-fields']) return 'object (free-form)';
  if (node.type === 'array') return `[]${node.items ? typeOf(node.items) : ''}`;
  if (node.type === 'object' && node.additionalProperties && typeof node.additionalProperties === 'object') {
    return `map[string]${typeOf(node.additionalProperties)}`;
  }
  return node.format ? `${node.type} (${node.format})` : (node.type ?? '');
}

function constraints(node: SchemaNode): string[] {
  const out: string[] = [];
  if (node.enum) out.push(`one of ${node.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
  if (node.minimum !== undefined && node.maximum !== undefined) out.push(`${node.minimum}–${node.maximum}`);
  else if (node.minimum !== undefined) out.push(`≥ ${node.minimum}`);
  else if (node.maximum !== undefined) out.push(`≤ ${node.maximum}`);
  if (node.maxLength !== undefined) {
    out.push(node.minLength ? `length ${node.minLength}–${node.maxLength}` : `length ≤ ${node.maxLength}`);
  }
  if (node.maxItems !== undefined) out.push(`${node.minItems ?? 0}–${node.maxItems} items`);
  if (node['x-kubernetes-list-type'] === 'map') {
    out.push(`unique by ${(node['x-kubernetes-list-map-keys'] ?? []).join(', ')}`);
  }
  if (node['x-kubernetes-list-type'] === 'set') out.push('unique values');
  for (const v of node['x-kubernetes-validations'] ?? []) out.push(v.message);
  if (node.type === 'array' && node.items && node.items.type !== 'object') {
    out.push(...constraints(node.items).map((c) => `each: ${c}`));
  }
  return out;
}

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The object nodes of the tree, each with its dotted path, parents first. */
function objects(path: string, node: SchemaNode): { path: string; node: SchemaNode }[] {
  const target = node.type === 'array' && node.items ? node.items : node;
  if (target.type !== 'object' || !target.properties) return [];
  const childPath = node.type === 'array' ? `${path}[]` : path;
  const here = [{ path: childPath, node: target }];
  return here.concat(
    Object.entries(target.properties).flatMap(([k, child]) => objects(`${childPath}.${k}`, child)),
  );
}

function section(path: string, node: SchemaNode): string {
  const required = new Set(node.required ?? []);
  const rows = Object.entries(node.properties ?? {}).map(([name, f]) => {
    const def = f.default === undefined ? '' : `\`${JSON.stringify(f.default)}\``;
    return `| \`${name}\` | ${cell(typeOf(f))} | ${required.has(name) ? 'yes' : ''} | ${cell(def)} | ${cell(
      [f.description ?? '', ...constraints(f).map((c) => `*${c}*`)].filter(Boolean).join(' '),
    )} |`;
  });
  const rules = (node['x-kubernetes-validations'] ?? []).map((v) => `- ${v.message} (\`${v.rule}\`)`);
  return [
    `### \`${path}\``,
    '',
    node.description ?? '',
    '',
    ...(rules.length ? ['Rules:', '', ...rules, ''] : []),
    '| field | type | required | default | description |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** How the fields work together: what the per-field tables cannot say. */
const SEMANTICS = [
  '## How the fields work together',
  '',
  '- **Segments and overrides.** Each segment gets its own Deployment and Service, named `<name>-<segment>`',
  '  (`-canary` appended for a canary), hence the name rules below. A segment serves `spec.model` and reads',
  '  `spec.snapshot` unless it sets its own `model` / `snapshot`, which then replace the default *whole*',
  '  (a model override is a different tower pair, so no field is inherited).',
  '- **Matching.** A request goes to the segment whose `match.headerValues` (default: the segment name)',
  '  contains the value of the `routing.headerName` header; a request without the header, or with a value',
  '  no segment lists, goes to the segment with `match.default: true`, or to the first segment if none is.',
  "- **Rollouts.** A change of a segment's effective `model.version` starts a canary for that segment: the",
  '  canary takes `steps[i].weight` percent of its traffic for `steps[i].pauseSeconds`, judged by',
  '  `analysis` (error rate, p99 latency, PSI of the score distributions, once `minSamples` requests were',
  '  served); after the last step (weight 100) it becomes stable. A failed analysis or a passed',
  '  `progressDeadlineSeconds` rolls back when `autoRollback` is true.',
  '- **GPU.** With `executionProvider: cuda` each pod requests `gpu.count` of `gpu.resourceName`; with `cpu`',
  '  no GPU is requested. Quantities (`resources`) are strings, e.g. `"500m"`, `"4Gi"`.',
  '',
];

interface PrinterColumn {
  name: string;
  jsonPath: string;
  description?: string;
}

export const REFERENCE_FILE = 'docs/reference.md';

/** The whole reference page as Markdown. */
export function referenceMarkdown(): string {
  const schema = rankingModelOpenAPISchema();
  const props = schema.properties ?? {};
  const crd = rankingModelCrd() as { spec: { versions: { additionalPrinterColumns: PrinterColumn[] }[] } };
  const columns = crd.spec.versions[0]?.additionalPrinterColumns ?? [];
  const sections = [
    ...(props.spec ? objects('spec', props.spec) : []),
    ...(props.status ? objects('status', props.status) : []),
  ];
  return [
    `# ${KIND} reference (\`${API_GROUP_VERSION}\`)`,
    '',
    '<!-- Generated by scripts/gen-crd.ts from api/rankingmodel.ts (npm run gen). Do not edit by hand. -->',
    '',
    schema.description ?? '',
    '',
    `Short name \`${SHORT_NAMES.join('`, `')}\`; categories \`${CATEGORIES.join('`, `')}\`; namespaced; status subresource.`,
    "The API server applies the defaults below and refuses specs that break a rule, with the rule's message.",
    '`kubectl explain rankingmodel.spec.<field>` shows the same descriptions.',
    '',
    ...SEMANTICS,
    '`kubectl get rkm` columns:',
    '',
    '| column | from | meaning |',
    '| --- | --- | --- |',
    ...columns.map((c) => `| ${c.name} | \`${c.jsonPath}\` | ${c.description ?? ''} |`),
    '',
    'Rules on the whole object:',
    '',
    ...(schema['x-kubernetes-validations'] ?? []).map((v) => `- ${v.message} (\`${v.rule}\`)`),
    '',
    ...sections.map((s) => section(s.path, s.node)),
  ].join('\n');
}
