// Kubernetes Events (core/v1) for meaningful transitions of an object (for lightrank: a
// RankingModel): objects (re)created, segments scaled, the model becoming ready, failures with their
// reason. The caller decides what is meaningful; this module writes them in the background (an
// Event never slows down or fails a reconcile), a few at a time. A transition (created, ready,
// rollout started, rolled back) is written every time it happens — a rollout retried after a
// rollback reports its start again. A report of a lasting state (`repeats`: capacity blocked,
// invalid spec) is written once per ten minutes per object, however often the reconcile that sees
// it runs.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../lib/logger.js';
import type { KubeClient } from './kube/client.js';
import { EVENTS, type KubeObject } from './kube/types.js';

/** RFC 3339 at second precision, as Kubernetes serialises metav1.Time. */
function toKubeTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const REPORTING_CONTROLLER = 'lightrank.dev/operator';

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** A lasting state each pass reports again: write the same one at most once per window. */
  repeats?: boolean;
}

const REPEAT_WINDOW_MS = 10 * 60_000;
/** Remembered events per object, newest last; older ones are forgotten first. */
const REMEMBERED_PER_OBJECT = 16;
/** Events waiting to be written; beyond this, new ones are dropped (and logged). */
const MAX_PENDING = 1000;
const CONCURRENCY = 4;

type Regarding = KubeObject & { apiVersion: string; kind: string };

export class EventRecorder {
  private readonly recent = new Map<string, Map<string, number>>();
  private readonly pending: KubeObject[] = [];
  private active = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly client: KubeClient,
    private readonly instance: string,
    private readonly logger: Logger,
  ) {}

  /** Queue the event for writing (unless it repeats a recent one); resolves once queued, not written. */
  async record(regarding: Regarding, ev: EventSpec): Promise<void> {
    const now = Date.now();
    if (ev.repeats) {
      const uid = regarding.metadata.uid ?? `${regarding.metadata.namespace}/${regarding.metadata.name}`;
      const fingerprint = `${ev.type}|${ev.reason}|${ev.message}`;
      const seen = this.recent.get(uid) ?? new Map<string, number>();
      const at = seen.get(fingerprint);
      if (at !== undefined && now - at < REPEAT_WINDOW_MS) return;
      seen.delete(fingerprint);
      seen.set(fingerprint, now);
      if (seen.size > REMEMBERED_PER_OBJECT) seen.delete(seen.keys().next().value!);
      this.recent.set(uid, seen);
    }
    if (this.pending.length >= MAX_PENDING) {
      this.logger.warn(
        { reason: ev.reason, object: regarding.metadata.name },
        'too many events waiting; dropping one',
      );
      return;
    }
    this.pending.push(this.event(regarding, ev, now));
    this.pump();
  }

  /** Resolves once every queued event has been written (or has failed). */
  flush(): Promise<void> {
    if (this.active === 0 && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Forget an object (it was deleted), so the map does not grow without bound. */
  forget(uid: string): void {
    this.recent.delete(uid);
  }

  private pump(): void {
    while (this.active < CONCURRENCY && this.pending.length > 0) {
      const event = this.pending.shift()!;
      this.active++;
      this.client
        .create(EVENTS, event)
        .catch((err: unknown) =>
          this.logger.warn({ err: String(err), reason: event.reason }, 'could not record an event'),
        )
        .finally(() => {
          this.active--;
          this.pump();
          if (this.active === 0 && this.pending.length === 0) for (const w of this.idle.splice(0)) w();
        });
    }
  }

  private event(regarding: Regarding, ev: EventSpec, now: number): KubeObject {
    const namespace = regarding.metadata.namespace ?? 'default';
    const time = toKubeTime(new Date(now));
    return {
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
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
  }
}
