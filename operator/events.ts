// Kubernetes Events (core/v1) for meaningful transitions of a RankingModel: objects created,
// segments scaled, the model becoming ready, failures with their reason. The reconciler decides
// what is meaningful; this module only writes, and drops a repeat of an event it wrote for the
// same object within the last ten minutes (a failure retried with backoff reports once).
import { randomBytes } from 'node:crypto';
import type { Logger } from '../lib/logger.js';
import { toKubeTime } from '../api/conditions.js';
import type { KubeClient } from './kube/client.js';
import { EVENTS, type KubeObject } from './kube/types.js';

export const REPORTING_CONTROLLER = 'lightrank.dev/operator';

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

const REPEAT_WINDOW_MS = 10 * 60_000;
/** Remembered events per object, newest last; older ones are forgotten first. */
const REMEMBERED_PER_OBJECT = 16;

export class EventRecorder {
  private readonly recent = new Map<string, Map<string, number>>();

  constructor(
    private readonly client: KubeClient,
    private readonly instance: string,
    private readonly logger: Logger,
  ) {}

  /** Writes the event; errors are logged, never thrown (an Event must not fail a reconcile). */
  async record(regarding: KubeObject & { apiVersion: string; kind: string }, ev: EventSpec): Promise<void> {
    const uid = regarding.metadata.uid ?? `${regarding.metadata.namespace}/${regarding.metadata.name}`;
    const fingerprint = `${ev.type}|${ev.reason}|${ev.message}`;
    const now = Date.now();
    const seen = this.recent.get(uid) ?? new Map<string, number>();
    const at = seen.get(fingerprint);
    if (at !== undefined && now - at < REPEAT_WINDOW_MS) return;
    seen.delete(fingerprint);
    seen.set(fingerprint, now);
    if (seen.size > REMEMBERED_PER_OBJECT) seen.delete(seen.keys().next().value!);
    this.recent.set(uid, seen);
    const namespace = regarding.metadata.namespace ?? 'default';
    try {
      await this.client.create(EVENTS, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: {
          name: `${regarding.metadata.name}.${now.toString(16)}${randomBytes(2).toString('hex')}`,
          namespace,
        },
        involvedObject: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: regarding.metadata.name,
          namespace,
          uid: regarding.metadata.uid,
          resourceVersion: regarding.metadata.resourceVersion,
        },
        type: ev.type,
        reason: ev.reason,
        message: ev.message,
        source: { component: REPORTING_CONTROLLER, host: this.instance },
        firstTimestamp: toKubeTime(new Date(now)),
        lastTimestamp: toKubeTime(new Date(now)),
        count: 1,
      });
    } catch (err) {
      this.logger.warn({ err: String(err), reason: ev.reason }, 'could not record an event');
    }
  }

  /** Forget an object (it was deleted), so the map does not grow without bound. */
  forget(uid: string): void {
    this.recent.delete(uid);
  }
}
