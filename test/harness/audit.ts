// The API server's audit trail, so tests can count API writes (e.g. "the operator made no
// writes in a steady state"): a policy that logs every write verb at Metadata level, once per
// request (ResponseComplete), and helpers that read the JSON-lines log back.
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';

export const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'] as const;

export function auditPolicyYaml(): string {
  return stringify({
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    omitStages: ['RequestReceived', 'ResponseStarted', 'Panic'],
    rules: [{ level: 'Metadata', verbs: [...WRITE_VERBS] }, { level: 'None' }],
  });
}

/** The fields of an audit.k8s.io/v1 Event that the helpers use. */
export interface AuditEvent {
  verb: string;
  user: { username: string; groups?: string[] };
  userAgent?: string;
  objectRef?: {
    resource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
    subresource?: string;
  };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stage: string;
}

export interface AuditFilter {
  /** substring of the user agent, or a pattern */
  userAgent?: string | RegExp;
  username?: string;
  namespace?: string;
  resource?: string;
  /** default: all write verbs */
  verbs?: readonly string[];
  /** only requests received at or after this time */
  since?: Date;
  /** only successful requests (2xx); default false */
  succeededOnly?: boolean;
}

export function readAuditEvents(logPath: string, filter: AuditFilter = {}): AuditEvent[] {
  let text: string;
  try {
    text = readFileSync(logPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const verbs = new Set(filter.verbs ?? WRITE_VERBS);
  const since = filter.since?.getTime();
  const events: AuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as AuditEvent;
    if (!verbs.has(e.verb)) continue;
    if (since !== undefined && Date.parse(e.requestReceivedTimestamp) < since) continue;
    if (filter.username !== undefined && e.user.username !== filter.username) continue;
    if (filter.namespace !== undefined && e.objectRef?.namespace !== filter.namespace) continue;
    if (filter.resource !== undefined && e.objectRef?.resource !== filter.resource) continue;
    if (filter.userAgent !== undefined && !matches(e.userAgent ?? '', filter.userAgent)) continue;
    if (filter.succeededOnly) {
      const code = e.responseStatus?.code ?? 0;
      if (code < 200 || code > 299) continue;
    }
    events.push(e);
  }
  return events;
}

export function countAuditWrites(logPath: string, filter: AuditFilter = {}): number {
  return readAuditEvents(logPath, filter).length;
}

function matches(value: string, pattern: string | RegExp): boolean {
  return typeof pattern === 'string' ? value.includes(pattern) : pattern.test(value);
}
