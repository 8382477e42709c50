// The router's table: the file format (zod schema, version 1) the operator writes into the router's
// ConfigMap, and its compiled form the proxy consults per request (model → segment → weighted backends).
// Parsing refuses anything ambiguous with a message naming the offending field, so a bad table never
// replaces a good one.
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { WeightedChoice } from './weighted.js';

export const DEFAULT_SEGMENT_HEADER = 'x-lightrank-segment';
export const DEFAULT_STICKY_HEADER = 'x-lightrank-sticky-key';

// DNS-1123 label: what Kubernetes allows for RankingModel segment names and what the path can carry.
const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label (lowercase letters, digits, "-")')
  .max(63);
// RankingModel names are DNS-1123 subdomains (dots allowed).
const modelName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
    'must be a DNS-1123 subdomain (lowercase letters, digits, "-", ".")',
  )
  .max(253);
const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name')
  .transform((h) => h.toLowerCase());

const backendUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' && u.pathname === '/' && !u.search && !u.hash && !u.username;
    } catch {
      return false;
    }
  },
  { message: 'must be an http:// origin without path or query, e.g. "http://svc.ns.svc:8080"' },
);

const backendSchema = z.strictObject({
  track: z.enum(['stable', 'canary']),
  url: backendUrl,
  weight: z.number().int().min(0).max(100),
});

const segmentSchema = z.strictObject({
  backends: z
    .array(backendSchema)
    .min(1)
    .max(2)
    .superRefine((backends, ctx) => {
      const tracks = backends.map((b) => b.track);
      if (new Set(tracks).size !== tracks.length) {
        ctx.addIssue({ code: 'custom', message: `each track may appear once, got [${tracks.join(', ')}]` });
      }
      const sum = backends.reduce((s, b) => s + b.weight, 0);
      if (sum !== 100) ctx.addIssue({ code: 'custom', message: `weights must sum to 100, got ${sum}` });
    }),
});

const modelSchema = z
  .strictObject({
    header: headerName.default(DEFAULT_SEGMENT_HEADER),
    stickyHeader: headerName.default(DEFAULT_STICKY_HEADER),
    defaultSegment: dnsLabel,
    segments: z.record(dnsLabel, segmentSchema),
  })
  .superRefine((m, ctx) => {
    if (!(m.defaultSegment in m.segments)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultSegment'],
        message: `"${m.defaultSegment}" is not one of the segments [${Object.keys(m.segments).join(', ')}]`,
      });
    }
  });

export const routerTableSchema = z.strictObject({
  version: z.literal(1),
  // Opaque, chosen by the writer (e.g. "<namespace>/<name>@<generation>"); exposed on /table and in metrics
  // so the operator can tell which table a router serves.
  revision: z.string().max(200).optional(),
  models: z.record(modelName, modelSchema),
});

export type RouterTableFile = z.input<typeof routerTableSchema>;
export type RouterTableSpec = z.output<typeof routerTableSchema>;
export type Track = 'stable' | 'canary';

export interface Backend {
  readonly track: Track;
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** `host:port`, the key of the connection pool to this backend. */
  readonly origin: string;
  readonly weight: number;
}

export interface Segment {
  readonly name: string;
  readonly backends: readonly Backend[];
  readonly choice: WeightedChoice<Backend>;
}

export interface ModelRoute {
  readonly name: string;
  readonly header: string;
  readonly stickyHeader: string;
  readonly defaultSegment: Segment;
  readonly segments: ReadonlyMap<string, Segment>;
}

export interface RouterTable {
  readonly spec: RouterTableSpec;
  /** sha256 of the file content the table was parsed from. */
  readonly sha256: string;
  readonly models: ReadonlyMap<string, ModelRoute>;
}

export class TableError extends Error {
  override readonly name = 'TableError';
}

export function contentSha256(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Parses and validates table file content (JSON, or YAML since YAML 1.2 is a superset of JSON). */
export function parseTable(content: string, sha256 = contentSha256(content)): RouterTable {
  let raw: unknown;
  try {
    raw = parseYaml(content);
  } catch (err) {
    throw new TableError(`router table is not valid JSON/YAML: ${(err as Error).message}`);
  }
  const result = routerTableSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new TableError(`router table is invalid: ${issues.join('; ')}`);
  }
  return compileTable(result.data, sha256);
}

function compileTable(spec: RouterTableSpec, sha256: string): RouterTable {
  const models = new Map<string, ModelRoute>();
  for (const [name, m] of Object.entries(spec.models)) {
    const segments = new Map<string, Segment>();
    for (const [segName, seg] of Object.entries(m.segments)) {
      const backends = seg.backends.map((b): Backend => {
        const u = new URL(b.url);
        const port = u.port === '' ? 80 : Number(u.port);
        return {
          track: b.track,
          url: u.origin,
          host: u.hostname,
          port,
          origin: `${u.hostname}:${port}`,
          weight: b.weight,
        };
      });
      // Canary first: a sticky key's bucket stays on the canary as its weight grows step by step.
      const ordered = [...backends].sort((a, b) => (a.track === b.track ? 0 : a.track === 'canary' ? -1 : 1));
      segments.set(segName, {
        name: segName,
        backends,
        choice: new WeightedChoice(ordered.map((b) => ({ item: b, weight: b.weight }))),
      });
    }
    const defaultSegment = segments.get(m.defaultSegment);
    if (!defaultSegment) throw new TableError(`models.${name}.defaultSegment: unknown segment`); // schema guarantees
    models.set(name, { name, header: m.header, stickyHeader: m.stickyHeader, defaultSegment, segments });
  }
  return { spec, sha256, models };
}

/** The segment a request belongs to: the one its segment header names, else the model's default. */
export function selectSegment(route: ModelRoute, headerValue: string | string[] | undefined): Segment {
  if (typeof headerValue === 'string') {
    const seg = route.segments.get(headerValue);
    if (seg) return seg;
  }
  return route.defaultSegment;
}
