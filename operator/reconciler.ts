// The RankingModel reconcile, level-based: re-read the model and everything it owns from the
// informer caches, build the desired objects, apply what differs, delete what is no longer
// wanted, and sync the status. It never acts on "what the event said".
//
//   validate → builds (operator/build/: snapshot builds; a new tower pair's canary waits for its
//     snapshot) → plan → reconcileIdentity → (reconcileDeployments ∥ reconcileServices ∥
//     reconcileRouting) → autoscalers → rollouts → prune → syncStatus
//
// `plan` and `rollouts` are the canary machinery (operator/rollout/): the plan says what each
// segment's stable Deployment runs (during a rollout, the old version), the rollouts pass runs
// each segment's steps (per-track Services, analysis, canary, weight, pause). `reconcileRouting`
// is the traffic provider's own infrastructure (the router's Deployment, Service, identity and
// table, or the HTTPRoutes) at the weights it serves now; the rollouts only move weights. The
// status is derived in one place (status.ts) from what the segments, the router and the rollouts
// report. One clock: `now` is read once per pass and handed to every step.
//
// A step that fails throws (the controller retries with backoff); an invalid spec is terminal.
import { ConditionType, EventReason, isConditionTrue } from '../api/conditions.js';
import {
  API_GROUP_VERSION,
  KIND,
  PLURAL,
  API_GROUP,
  API_VERSION,
  RankingModelSpecSchema,
  type RankingModel,
  type RankingModelStatus,
} from '../api/rankingmodel.js';
import { resolveSegments, SpecResolutionError, type ResolvedSegment } from '../api/resolve.js';
import type { Logger } from '../lib/logger.js';
import { statusUnchanged } from './status-compare.js';
import { StatusPacer } from './status-pacing.js';
import {
  buildService,
  deploymentName,
  LABEL_MODEL,
  LABEL_SEGMENT,
  serviceName,
  type BuildOptions,
  type Deployment,
  type Service,
} from './builders.js';
import { TerminalError, type ReconcileResult } from './runtime/controller.js';
import type { EventRecorder } from './runtime/events.js';
import type { KubeClient } from './runtime/kube/client.js';
import type { Informer } from './runtime/kube/informer.js';
import type { OwnedObjects } from './runtime/kube/owned.js';
import { DEPLOYMENTS, SERVICES, splitKey, type KubeObject, type ResourceRef } from './runtime/kube/types.js';
import { SHARED_KINDS, sharedOf, SharedIdentities } from './identity.js';
import { computeStatus, failedPassStatus, invalidSpecStatus, type SegmentObservation } from './status.js';
import { Rollouts, type StablePlan } from './rollout/rollouts.js';
import { readServing, withServing } from './rollout/serving.js';
import { SnapshotBuilds } from './build/builds.js';
import { gateSegments } from './build/gate.js';
import { withBuildStatus } from './build/status.js';
import { routerName } from './traffic/router/objects.js';
import { trackServiceName } from './traffic/services.js';
import { reconcileAutoscalers } from './autoscaling/reconcile.js';
import { handOverReplicas, withCurrentScale } from './autoscaling/replicas.js';
import { createProvider, otherProviders } from './traffic/index.js';
import { SHARED_ROUTER_NAME, usesSharedRouter } from './traffic/router/shared.js';
import type { TrafficProvider } from './traffic/provider.js';

export const RANKING_MODELS: ResourceRef = {
  group: API_GROUP,
  version: API_VERSION,
  plural: PLURAL,
  kind: KIND,
};

export { EventReason };
export { statusUnchanged };

export interface ReconcilerDeps {
  client: KubeClient;
  models: Informer<KubeObject>;
  deployments: Informer<Deployment>;
  services: Informer<Service>;
  /** Every kind the operator writes, read from caches (and its own writes while they lag). */
  owned: OwnedObjects;
  /** The scoring pods (managed-by label): their sidecars annotate the snapshot they serve. */
  pods: Informer<KubeObject>;
  events: EventRecorder;
  /** Server image when spec.serving.image is unset, and the other build options. */
  defaults: BuildOptions & { image: string; routerImage?: string };
  now?: () => Date;
}

type Regarding = KubeObject & { apiVersion: string; kind: string };

interface ModelRef {
  metadata: { name: string; namespace?: string; uid?: string };
  status?: unknown;
}

function ownedBy(model: ModelRef) {
  return (o: KubeObject): boolean =>
    o.metadata.namespace === model.metadata.namespace &&
    o.metadata.labels?.[LABEL_MODEL] === model.metadata.name &&
    (o.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid === model.metadata.uid);
}

export class RankingModelReconciler {
  private readonly now: () => Date;
  private readonly rollouts: Rollouts;
  private readonly builds: SnapshotBuilds;
  private readonly identities: SharedIdentities;
  /** Holds back status writes that only count progress (status-pacing.ts). */
  private readonly pacer = new StatusPacer();
  /** The status last written per model, so a cache that has not caught up with it is not trusted. */
  private readonly writtenStatus = new Map<
    string,
    { resourceVersion?: string; status: RankingModelStatus }
  >();

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.rollouts = new Rollouts({ ...deps, modelsRef: RANKING_MODELS });
    this.builds = new SnapshotBuilds({
      owned: deps.owned,
      pods: deps.pods,
      events: deps.events,
      defaults: deps.defaults.imagePullPolicy ? { imagePullPolicy: deps.defaults.imagePullPolicy } : {},
    });
    this.identities = new SharedIdentities(deps.owned, deps.models, {
      // the namespace's shared router runs the operator's router image (no one model's serving image)
      image: deps.defaults.routerImage ?? deps.defaults.image,
      ...(deps.defaults.imagePullPolicy ? { imagePullPolicy: deps.defaults.imagePullPolicy } : {}),
    });
  }

  async reconcile(key: string, log: Logger): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const raw = this.deps.models.get(namespace, name);
    // gone: the garbage collector removes what it owned (owner references)
    if (!raw) {
      this.deps.owned.forget(namespace, (n) => n.startsWith(`${name}-`));
      this.pacer.forget(key);
      // the namespace's shared identities go with its last model (identity.ts)
      if (namespace) await this.identities.collect(namespace, log);
      return {};
    }
    // being deleted: nothing to converge; owned objects go with it
    if (raw.metadata.deletionTimestamp) return {};
    const regarding: Regarding = { ...raw, apiVersion: API_GROUP_VERSION, kind: KIND };

    const parsed = RankingModelSpecSchema.safeParse(raw.spec);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ');
      return this.refuse(raw, regarding, message);
    }
    const model: RankingModel = {
      apiVersion: API_GROUP_VERSION,
      kind: KIND,
      metadata: raw.metadata as RankingModel['metadata'],
      spec: parsed.data,
      status: this.freshestStatus(raw),
    };
    let segments: ResolvedSegment[];
    try {
      // an autoscaled segment counts the stable pods its autoscaler set (the canary follows them)
      segments = resolveSegments(model.spec, { image: this.deps.defaults.image }).map((s) =>
        withCurrentScale(
          s,
          this.deps.owned.peek<Deployment>(DEPLOYMENTS, namespace, deploymentName(name, s.name, 'stable')),
        ),
      );
    } catch (err) {
      if (err instanceof SpecResolutionError) return this.refuse(raw, regarding, err.message);
      throw err;
    }

    try {
      return await this.converge(model, segments, regarding, log);
    } catch (err) {
      await this.reportFailure(model, regarding, err, log);
      throw err;
    }
  }

  /** Everything after validation: the owned objects, the rollouts, pruning, the status. */
  private async converge(
    model: RankingModel,
    segments: ResolvedSegment[],
    regarding: Regarding,
    log: Logger,
  ): Promise<ReconcileResult> {
    const now = this.now();
    // the offline half first: a new tower pair's canary waits for its snapshot (operator/build/)
    const built = await this.builds.reconcile(model, segments, regarding, log, now);
    const gated = gateSegments(segments, built.builds, (seg) => this.stableServing(model, seg));
    const plans = this.rollouts.plan(model, gated.segments);
    await this.reconcileIdentity(model, log);
    const created: string[] = [];
    // one wave: none of these reads what another writes (a new model's objects go out at once;
    // one after the other they made a chain of eight round trips per model). Every step settles
    // before a failure is thrown, the first in this order: the same refusal fails each retry the
    // same way (one Warning per ten minutes, not one per step that lost the race).
    const [deployments, , routing] = await settleInOrder([
      this.reconcileDeployments(model, plans, regarding, log, created),
      this.reconcileServices(model, segments, log, created),
      this.reconcileRouting(model, segments),
    ] as const);
    const autoscalers = await reconcileAutoscalers(this.deps.owned, model, segments, log, (s) =>
      Boolean(
        this.deps.owned.peek(
          DEPLOYMENTS,
          model.metadata.namespace,
          deploymentName(model.metadata.name, s, 'canary'),
        ),
      ),
    );
    created.push(...autoscalers.created);
    for (const o of deployments) o.autoscaler = autoscalers.observed.get(o.segment.name);
    if (autoscalers.deleted.length > 0)
      await this.deps.events.record(regarding, {
        type: 'Normal',
        reason: EventReason.Deleted,
        message: `deleted ${autoscalers.deleted.join(', ')} (autoscaling off or changed)`,
      });
    // one Event for everything a pass created on a model the operator has reported on before (an
    // object deleted by hand and recreated, a segment added, autoscaling turned on). A new model's
    // own objects are no news (as for a Deployment's ReplicaSet or a Rollout's Services): its
    // Progressing and Ready conditions say how it goes, and Ready has its Event.
    if (created.length > 0 && model.status?.observedGeneration !== undefined) {
      await this.deps.events.record(regarding, {
        type: 'Normal',
        reason: EventReason.Created,
        message: `created ${created.join(', ')}`,
      });
    }
    const { provider, canaryServices } = routing;
    const rollout = await this.rollouts.reconcile(
      model,
      plans,
      provider,
      canaryServices,
      regarding,
      log,
      now,
    );
    await this.prune(model, segments, regarding, log, rollout.owned);
    // in router mode requests reach the segments through the model's router (or its namespace's
    // shared one): Ready waits for it
    const routerDeployment = usesSharedRouter(model) ? SHARED_ROUTER_NAME : routerName(model.metadata.name);
    const router =
      model.spec.routing.mode === 'router'
        ? {
            name: routerDeployment,
            deployment: this.deps.owned.peek<Deployment>(
              DEPLOYMENTS,
              model.metadata.namespace,
              routerDeployment,
            ),
          }
        : undefined;
    const status = withBuildStatus(
      computeStatus(model, deployments, now, router, rollout.segments),
      model,
      built.builds,
      gated.held,
      now,
    );
    const statusHeldMs = await this.syncStatus(model, regarding, status, log, now);
    const requeue = [rollout.requeueAfterMs, built.requeueAfterMs, statusHeldMs].filter(
      (ms) => ms !== undefined,
    );
    return requeue.length ? { requeueAfterMs: Math.min(...requeue) } : {};
  }

  /** The segment as its stable Deployment runs it now (undefined before it exists). */
  private stableServing(model: RankingModel, seg: ResolvedSegment): ResolvedSegment | undefined {
    const live = this.deps.owned.peek<Deployment>(
      DEPLOYMENTS,
      model.metadata.namespace,
      deploymentName(model.metadata.name, seg.name, 'stable'),
    );
    const record = readServing(live, seg.model.tasks);
    return record ? withServing(seg, record) : undefined;
  }

  /**
   * A pass that failed (an API error: RBAC, an admission policy, a missing CRD) is retried with
   * backoff; say so where people look: Degraded=True/ApplyFailed with the error, and a Warning
   * Event (once per ten minutes for the same error). The next pass that gets through computes the
   * status afresh. A failure to report is logged, never thrown over the original error.
   */
  private async reportFailure(model: RankingModel, regarding: Regarding, err: unknown, log: Logger) {
    const message = `reconcile failed, retrying: ${err instanceof Error ? err.message : String(err)}`.slice(
      0,
      1024,
    );
    await this.deps.events.record(regarding, {
      type: 'Warning',
      reason: EventReason.ReconcileFailed,
      message,
      repeats: true,
    });
    const status = failedPassStatus(model, message, this.now());
    try {
      await this.writeStatusIfChanged(model, status);
    } catch (statusErr) {
      log.debug({ err: String(statusErr) }, 'could not report the failure in status');
    }
  }

  /** Report an unusable spec in status and an Event, then stop retrying (TerminalError). */
  private async refuse(raw: KubeObject, regarding: Regarding, message: string): Promise<never> {
    const status = invalidSpecStatus(
      raw as { metadata: { generation?: number }; status?: RankingModelStatus },
      message,
      this.now(),
    );
    await this.writeStatusIfChanged(raw, status);
    await this.deps.events.record(regarding, {
      type: 'Warning',
      reason: EventReason.InvalidSpec,
      message,
      repeats: true,
    });
    throw new TerminalError(`invalid spec: ${message}`);
  }

  /** Delete the namespace's shared identities no model wants (at start: models deleted while no operator ran). */
  async collectIdentities(namespace: string, log: Logger): Promise<void> {
    await this.identities.collect(namespace, log);
  }

  /**
   * The namespace's shared identities the model's pods run as (scoring; the router's in router
   * mode), before the Deployments whose pods use them (identity.ts). A model that routes through
   * Gateway API may have been the last router user of its namespace: collect what is unwanted.
   * Then the model's own identities of earlier versions go.
   */
  private async reconcileIdentity(model: RankingModel, log: Logger): Promise<void> {
    const ns = model.metadata.namespace ?? 'default';
    const kinds = sharedOf(model);
    await Promise.all(kinds.map((kind) => this.identities.apply(kind, ns, log)));
    const unwanted = SHARED_KINDS.filter((k) => !kinds.includes(k));
    if (unwanted.length > 0) await this.identities.collectIfPresent(ns, unwanted, log);
    await this.identities.removeLegacy(model, log);
  }

  /**
   * One stable Deployment per segment, running what the plan says (the old version during a
   * rollout). Returns what each segment's Deployment looks like now; names what it created.
   */
  private async reconcileDeployments(
    model: RankingModel,
    plans: StablePlan[],
    regarding: Regarding,
    log: Logger,
    created: string[],
  ): Promise<SegmentObservation[]> {
    const ns = model.metadata.namespace;
    return Promise.all(
      plans.map(async ({ segment, deployment: desired }) => {
        const live = this.deps.owned.peek<Deployment>(DEPLOYMENTS, ns, desired.metadata.name);
        // autoscaling turned on: the count the operator set goes to the autoscaler, not back to 1
        if (await handOverReplicas(this.deps.client, desired, live))
          log.info({ deployment: desired.metadata.name }, 'replicas handed over to the autoscaler');
        const applied = await this.deps.owned.apply(DEPLOYMENTS, desired);
        const outcome = applied.outcome;
        if (applied.outcome !== 'unchanged') {
          const was = (live?.spec as { replicas?: number } | undefined)?.replicas;
          log.info(
            { deployment: desired.metadata.name, field: applied.field },
            `Deployment ${applied.outcome}`,
          );
          if (outcome === 'created') {
            created.push(`Deployment ${desired.metadata.name}`);
          } else if (!segment.autoscaling && was !== segment.replicas) {
            await this.deps.events.record(regarding, {
              type: 'Normal',
              reason: EventReason.Scaled,
              message: `scaled segment ${segment.name} from ${was ?? 0} to ${segment.replicas} replicas`,
            });
          } else {
            await this.deps.events.record(regarding, {
              type: 'Normal',
              reason: EventReason.Updated,
              message: `updated Deployment ${desired.metadata.name}`,
            });
          }
        }
        return { segment, deployment: live, pods: this.segmentPods(model, segment.name) };
      }),
    );
  }

  /** The segment's pods (stable and canary track), from the pod cache. */
  private segmentPods(model: RankingModel, segment: string): KubeObject[] {
    const { name, namespace } = model.metadata;
    return this.deps.pods.list((p) => {
      const l = p.metadata.labels ?? {};
      return p.metadata.namespace === namespace && l[LABEL_MODEL] === name && l[LABEL_SEGMENT] === segment;
    });
  }

  /**
   * The traffic provider of the routing mode, its infrastructure applied at the weights it serves
   * now; a model that switched modes keeps no routes of the other kind.
   */
  private async reconcileRouting(
    model: RankingModel,
    segments: ResolvedSegment[],
  ): Promise<{ provider: TrafficProvider; canaryServices: Set<string> }> {
    const { defaults, owned } = this.deps;
    const routerOpts = {
      image: defaults.routerImage ?? model.spec.serving.image ?? defaults.image,
      imagePullPolicy: defaults.imagePullPolicy,
    };
    const mode = model.spec.routing.mode;
    const weights = new Map((model.status?.segments ?? []).map((s) => [s.name, s.canaryWeight ?? 0]));
    // the segments whose canary Service is there (around a rollout only: traffic/services.ts)
    const ns = model.metadata.namespace;
    const canaryServices = new Set(
      segments
        .filter((s) => owned.peek(SERVICES, ns, trackServiceName(model.metadata.name, s.name, 'canary')))
        .map((s) => s.name),
    );
    const ctx = { owned, model, segments, weights, canaryServices };
    const scope = model.spec.routing.routerScope;
    const provider = createProvider(mode, ctx, routerOpts, scope);
    await provider.reconcile();
    // then what the model no longer routes through: a model switching router scope keeps its old
    // table until the new one is written
    for (const other of otherProviders(mode, scope, { ...ctx, weights: new Map() }, routerOpts))
      await other.removeManagedRoutes();
    return { provider, canaryServices };
  }

  /**
   * One Service per segment (its stable pods: the stable backend of every traffic provider,
   * traffic/services.ts); names what it created. The canary Services are the rollouts'.
   */
  private async reconcileServices(
    model: RankingModel,
    segments: ResolvedSegment[],
    log: Logger,
    created: string[],
  ): Promise<void> {
    await Promise.all(
      segments.map(async (segment) => {
        const desired = buildService(model, segment);
        const applied = await this.deps.owned.apply(SERVICES, desired);
        if (applied.outcome === 'unchanged') return;
        log.info({ service: desired.metadata.name, field: applied.field }, `Service ${applied.outcome}`);
        if (applied.outcome === 'created') created.push(`Service ${desired.metadata.name}`);
      }),
    );
  }

  /** Delete owned objects no segment wants any more (a segment was removed from the spec). */
  private async prune(
    model: RankingModel,
    segments: ResolvedSegment[],
    regarding: Regarding,
    log: Logger,
    owned: { deployments: Set<string>; services: Set<string> },
  ): Promise<void> {
    const name = model.metadata.name;
    const wanted = {
      deployments: new Set([
        ...segments.map((s) => deploymentName(name, s.name, 'stable')),
        ...owned.deployments,
      ]),
      services: new Set([...segments.map((s) => serviceName(name, s.name)), ...owned.services]),
    };
    const stale: [ResourceRef, KubeObject][] = [
      ...this.deps.deployments
        .list(ownedBy(model))
        .filter((d) => !wanted.deployments.has(d.metadata.name))
        .map((d) => [DEPLOYMENTS, d] as [ResourceRef, KubeObject]),
      ...this.deps.services
        .list(ownedBy(model))
        .filter((s) => !wanted.services.has(s.metadata.name))
        .map((s) => [SERVICES, s] as [ResourceRef, KubeObject]),
    ];
    for (const [ref, obj] of stale) {
      // false: already gone, or deleted by an earlier pass that the cache has not seen yet
      if (!(await this.deps.owned.deleteIfPresent(ref, obj.metadata.namespace, obj.metadata.name))) continue;
      log.info({ kind: ref.kind, name: obj.metadata.name }, `${ref.kind} no longer wanted; deleted`);
      await this.deps.events.record(regarding, {
        type: 'Normal',
        reason: EventReason.Deleted,
        message: `deleted ${ref.kind} ${obj.metadata.name} (segment removed)`,
      });
    }
  }

  /**
   * Write the status where it differs from the live one; a change that only counts progress waits
   * out what is left of the model's pacing interval (status-pacing.ts). Returns how long it was held
   * back (the pass comes back then), if it was.
   */
  private async syncStatus(
    model: RankingModel,
    regarding: Regarding,
    status: RankingModelStatus,
    log: Logger,
    now: Date,
  ): Promise<number | undefined> {
    const key = `${model.metadata.namespace}/${model.metadata.name}`;
    if (!statusUnchanged(status, model.status)) {
      const holdMs = this.pacer.holdMs(key, status, model.status, now.getTime());
      if (holdMs > 0) {
        log.debug({ holdMs, readySegments: status.readySegments }, 'status progress held back');
        return holdMs;
      }
    }
    const wasReady = isConditionTrue(model.status?.conditions, ConditionType.Ready);
    const written = await this.writeStatusIfChanged(model, status);
    if (!written) return undefined;
    log.info({ phase: status.phase, readySegments: status.readySegments }, 'status updated');
    if (!wasReady && isConditionTrue(status.conditions, ConditionType.Ready)) {
      await this.deps.events.record(regarding, {
        type: 'Normal',
        reason: EventReason.Ready,
        message: `all segments ready (${status.readySegments})`,
      });
    }
    return undefined;
  }

  /** Write the status subresource unless the live status already says the same. */
  private async writeStatusIfChanged(model: ModelRef, status: RankingModelStatus): Promise<boolean> {
    if (statusUnchanged(status, model.status as RankingModelStatus | undefined)) return false;
    const written = await this.deps.client.apply(
      RANKING_MODELS,
      {
        apiVersion: API_GROUP_VERSION,
        kind: KIND,
        metadata: { name: model.metadata.name, namespace: model.metadata.namespace },
        status,
      },
      'status',
    );
    const key = `${model.metadata.namespace}/${model.metadata.name}`;
    this.writtenStatus.set(key, {
      resourceVersion: (written as KubeObject).metadata.resourceVersion,
      status,
    });
    this.pacer.wrote(key, this.now().getTime());
    return true;
  }

  /**
   * The model's status from the cache, or the one this operator wrote last when the cache has not
   * caught up with that write yet: rollout state lives in status, and acting on an older copy
   * would replay a step. (Etcd resource versions are increasing integers.)
   */
  private freshestStatus(raw: KubeObject): RankingModelStatus | undefined {
    const key = `${raw.metadata.namespace}/${raw.metadata.name}`;
    const mine = this.writtenStatus.get(key);
    const cached = raw.status as RankingModelStatus | undefined;
    if (!mine) return cached;
    try {
      if (BigInt(mine.resourceVersion ?? '0') > BigInt(raw.metadata.resourceVersion ?? '0'))
        return mine.status;
    } catch {
      // not an integer: trust the cache
    }
    this.writtenStatus.delete(key);
    return cached;
  }
}

/** Promise.all, except that it waits for every promise and rejects with the first failure in order. */
export async function settleInOrder<T extends readonly unknown[]>(
  promises: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
