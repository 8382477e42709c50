// Kubernetes Events (core/v1) for meaningful transitions of a RankingModel: objects created,
// segments scaled, the model becoming ready, failures with their reason. The reconciler decides
// what is meaningful; this module only writes, and drops an exact repeat of the last event it
// wrote for the same object (a failure retried with backoff reports once, not on every retry).
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

export class EventRecorder {
  private readonly last = new Map<string, string>();

  constructor(
    private readonly client: KubeClient,
    private readonly instance: string,
    private readonly logger: Logger,
  ) {}

  /** Writes the event; errors are logged, never thrown (an Event must not fail a reconcile). */
  async record(regarding: KubeObject & { apiVersion: string; kind: string }, ev: EventSpec): Promise<void> {
    const uid = regarding.metadata.uid ?? `${regarding.metadata.namespace}/${regarding.metadata.name}`;
    const fingerprint = `${ev.type}|${ev.reason}|${ev.message}`;
    if (this.last.get(uid) === fingerprint) return;
    this.last.set(uid, fingerprint);
    const now = Date.now();
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
    this.last.delete(uid);
  }
}
