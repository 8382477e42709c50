// Leader election on a coordination.k8s.io/v1 Lease (client-go's leaderelection, which
// client-node lacks). Only the leader runs the controller.
//
//  - Every retryPeriod a candidate reads the Lease. It takes it when nobody holds it, or when
//    the holder has not renewed for leaseDuration, measured from when THIS process observed the
//    last change (local clock only, so clock skew between machines cannot shorten a lease).
//  - Writes use the Lease's resourceVersion (PUT), so two candidates racing for an expired
//    Lease cannot both win: the loser gets 409 Conflict and stays a follower.
//  - The leader renews every retryPeriod; when no renewal has succeeded for renewDeadline it
//    stops leading (renewDeadline < leaseDuration, so it stops before anyone else can start).
//  - On shutdown the leader releases the Lease (clears holderIdentity) so a successor starts at
//    once instead of waiting out the lease.
import type { Logger } from '../../lib/logger.js';
import { ApiError, isConflict, isNotFound, type KubeClient } from './kube/client.js';
import { LEASES, apiVersionOf, type KubeObject } from './kube/types.js';

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
export type Lease = KubeObject & { spec?: LeaseSpec };

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
}

/** What a candidate should do with the Lease it just read (pure; unit-tested). */
export type LeaseAction = 'create' | 'renew' | 'acquire' | 'wait';

export function decideLeaseAction(
  lease: Lease | undefined,
  identity: string,
  observedAtMs: number,
  nowMs: number,
  leaseDurationMs: number,
): LeaseAction {
  if (!lease) return 'create';
  const holder = lease.spec?.holderIdentity ?? '';
  if (holder === identity) return 'renew';
  if (!holder) return 'acquire';
  // the holder's own declared duration wins over ours when it is longer
  const duration = Math.max(leaseDurationMs, (lease.spec?.leaseDurationSeconds ?? 0) * 1000);
  return nowMs >= observedAtMs + duration ? 'acquire' : 'wait';
}

/** RFC 3339 with microseconds, the MicroTime format the Lease fields require. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

export function validateLeaderElection(
  o: Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>,
): void {
  if (!(o.leaseDurationMs > o.renewDeadlineMs))
    throw new Error(
      `leader election: lease duration (${o.leaseDurationMs} ms) must exceed the renew deadline (${o.renewDeadlineMs} ms)`,
    );
  if (!(o.renewDeadlineMs > o.retryPeriodMs))
    throw new Error(
      `leader election: renew deadline (${o.renewDeadlineMs} ms) must exceed the retry period (${o.retryPeriodMs} ms)`,
    );
  if (!(o.retryPeriodMs > 0)) throw new Error('leader election: retry period must be > 0');
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private observed: { rv: string; atMs: number } = { rv: '', atMs: 0 };
  private lastRenewMs = 0;
  private lease: Lease | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
    private readonly callbacks: { onStartedLeading: () => void; onStoppedLeading: () => void },
    private readonly now: () => number = Date.now,
  ) {
    validateLeaderElection(opts);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stop campaigning; a leader releases the Lease first. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.leading) {
      await this.release();
      this.leading = false; // a deliberate stop, not a lost lease: no onStoppedLeading
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.tryAcquireOrRenew();
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        this.opts.logger.warn({ err: err.message, lease: this.opts.name }, 'lease read/write failed');
      }
      if (this.leading && this.now() - this.lastRenewMs > this.opts.renewDeadlineMs) {
        this.opts.logger.error(
          { lease: this.opts.name, renewDeadlineMs: this.opts.renewDeadlineMs },
          'could not renew the lease in time; stopping leading',
        );
        this.setLeading(false);
      }
      if (!this.stopped) await this.sleep(this.opts.retryPeriodMs);
    }
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { namespace, name, identity } = this.opts;
    let lease: Lease | undefined;
    try {
      lease = await this.client.get<Lease>(LEASES, namespace, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const now = this.now();
    if (lease && lease.metadata.resourceVersion !== this.observed.rv) {
      this.observed = { rv: lease.metadata.resourceVersion ?? '', atMs: now };
    }
    const action = decideLeaseAction(lease, identity, this.observed.atMs, now, this.opts.leaseDurationMs);
    if (action === 'wait') {
      if (this.leading) this.setLeading(false); // someone else holds it: we lost it
      return;
    }
    const spec: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.opts.leaseDurationMs / 1000),
      renewTime: microTime(now),
      acquireTime: action === 'renew' ? (lease?.spec?.acquireTime ?? microTime(now)) : microTime(now),
      leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + (action === 'acquire' ? 1 : 0),
    };
    try {
      const written =
        action === 'create'
          ? await this.client.create<Lease>(LEASES, {
              apiVersion: apiVersionOf(LEASES),
              kind: 'Lease',
              metadata: { name, namespace },
              spec,
            })
          : await this.client.replace<Lease>(LEASES, { ...lease!, spec });
      this.lease = written;
      this.observed = { rv: written.metadata.resourceVersion ?? '', atMs: now };
      this.lastRenewMs = now;
      if (!this.leading) {
        this.opts.logger.info({ lease: name, identity, action }, 'became leader');
        this.setLeading(true);
      }
    } catch (err) {
      // 409: another candidate wrote first (or the object changed under us); re-read next round
      if (isConflict(err)) return;
      throw err;
    }
  }

  private async release(): Promise<void> {
    if (!this.lease) return;
    try {
      await this.client.replace<Lease>(LEASES, {
        ...this.lease,
        spec: {
          ...this.lease.spec,
          holderIdentity: null,
          leaseDurationSeconds: 1,
          renewTime: microTime(this.now()),
        },
      });
      this.opts.logger.info({ lease: this.opts.name }, 'released the lease');
    } catch (err) {
      this.opts.logger.warn(
        { lease: this.opts.name, err: String(err) },
        'could not release the lease; it expires on its own',
      );
    }
  }

  private setLeading(v: boolean): void {
    if (this.leading === v) return;
    this.leading = v;
    if (v) this.callbacks.onStartedLeading();
    else this.callbacks.onStoppedLeading();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
