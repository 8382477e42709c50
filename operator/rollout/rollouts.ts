// The rollout orchestrator the reconciler calls: plans what each segment's stable Deployment runs
// (plan), then runs every segment's rollout pass (segment.ts) with the traffic provider of the
// model's routing mode, and reports what it owns, when to look again, and the rollout state the
// status sync writes (status.ts). Segments roll out independently: each has its own Deployments,
// Services, routing entries and status. Reads and writes go through OwnedObjects, so a cache that
// has not caught up with a write made here is never taken for the truth (the stable Deployment's
// annotations are rollout state).
import type { RankingModel } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import type { Logger } from '../../lib/logger.js';
import { analyzeCanary } from '../analysis/analysis.js';
import { PrometheusClient } from '../analysis/prometheus.js';
import { PodAnnotation } from '../../api/pod-annotations.js';
import {
  LABEL_MODEL,
  LABEL_SEGMENT,
  LABEL_TRACK,
  buildDeployment,
  deploymentName,
  type BuildOptions,
  type Deployment,
  type Service,
} from '../builders.js';
import type { EventRecorder } from '../runtime/events.js';
import { ApiError, type KubeClient } from '../runtime/kube/client.js';
import type { Informer } from '../runtime/kube/informer.js';
import type { OwnedObjects } from '../runtime/kube/owned.js';
import { DEPLOYMENTS, SERVICES, type KubeObject } from '../runtime/kube/types.js';
import type { TrafficProvider } from '../traffic/provider.js';
import { routerName } from '../traffic/router/objects.js';
import { buildTrackService, planTrackService, trackServiceName } from '../traffic/services.js';
import { retireLegacyStable } from '../traffic/legacy-stable.js';
import { readCapacity } from './capacity.js';
import { leaveReplicasToAutoscaler } from '../autoscaling/replicas.js';
import { ONE_SHOT, clearAnnotations, readControls } from './controls.js';
import { SegmentRollout, analysisWindows, type SegmentRolloutState } from './segment.js';
import {
  markRolledBack,
  readServing,
  revisionOf,
  rolledBackRevision,
  servingOf,
  withServing,
  type ServingRecord,
} from './serving.js';
import type { ResourceRef } from '../runtime/kube/types.js';

export interface RolloutDeps {
  client: KubeClient;
  owned: OwnedObjects;
  /** The scoring pods (their sidecars annotate model refusals). */
  pods: Informer<KubeObject>;
  events: EventRecorder;
  defaults: BuildOptions & { image: string; routerImage?: string };
  modelsRef: ResourceRef;
}

/** What the stable track of a segment runs this pass. */
export interface StablePlan {
  /** The segment as the spec wants it. */
  desired: ResolvedSegment;
  /** The segment as the stable Deployment runs it (the recorded model and snapshot). */
  segment: ResolvedSegment;
  record: ServingRecord;
  rolledBack: string | undefined;
  /** The stable Deployment to apply. */
  deployment: Deployment;
}

export interface RolloutOutcome {
  segments: SegmentRolloutState[];
  /**
   * Names of the Deployments and Services the rollouts and routing own (not to be pruned): the canary
   * ones, the router's, and an earlier version's stable Services while they cool down.
   */
  owned: { deployments: Set<string>; services: Set<string> };
  requeueAfterMs: number | undefined;
}

type Regarding = KubeObject & { apiVersion: string; kind: string };

/**
 * The stable's update strategy while a promotion replaces its pods behind a canary that carries all
 * the traffic: no surge pod (on full GPUs it could never be placed, and the promotion would wait
 * for it for ever), a quarter of the pods at a time (at least one). The stable serves nothing
 * meanwhile; it takes the traffic back only once all its pods run the promoted version. Otherwise
 * the Deployment keeps Kubernetes' default (25% surge, 25% unavailable).
 */
const IN_PLACE = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '25%' } };

/** A promotion under way (as of the last status) while the canary has all the segment's traffic. */
function promotingBehindCanary(
  model: RankingModel,
  desired: ResolvedSegment,
  record: ServingRecord,
): boolean {
  const seg = model.status?.segments?.find((s) => s.name === desired.name);
  return (
    seg?.rolloutPhase === 'Progressing' &&
    seg.canaryWeight === 100 &&
    revisionOf(record) === revisionOf(servingOf(desired))
  );
}

export class Rollouts {
  constructor(private readonly deps: RolloutDeps) {}

  private live<T extends KubeObject>(ref: ResourceRef, namespace: string | undefined, name: string) {
    return this.deps.owned.peek<T>(ref, namespace, name);
  }

  private deployment(namespace: string | undefined, name: string): Deployment | undefined {
    return this.live<Deployment>(DEPLOYMENTS, namespace, name);
  }

  stableDeployment(
    model: RankingModel,
    desired: ResolvedSegment,
    record: ServingRecord,
    canaryTakesAll: boolean,
  ): Deployment {
    const d = buildDeployment(model, withServing(desired, record), 'stable', this.deps.defaults);
    if (canaryTakesAll) d.spec = { ...d.spec, strategy: IN_PLACE };
    return leaveReplicasToAutoscaler(d, desired);
  }

  /** Per segment, what the stable Deployment runs: its recorded serving, else the spec's. */
  plan(model: RankingModel, segments: ResolvedSegment[]): StablePlan[] {
    return segments.map((desired) => {
      const ns = model.metadata.namespace;
      const live = this.deployment(ns, deploymentName(model.metadata.name, desired.name, 'stable'));
      const recorded = readServing(live, desired.model.tasks);
      const wanted = servingOf(desired);
      // same revision: take the spec's copy (settings outside the revision, e.g. the poll interval)
      const record = recorded && revisionOf(recorded) !== revisionOf(wanted) ? recorded : wanted;
      const retry = readControls(model, desired.name).retry;
      const canaryService = this.live(
        SERVICES,
        ns,
        trackServiceName(model.metadata.name, desired.name, 'canary'),
      );
      const rolledBack = retry ? undefined : rolledBackRevision(canaryService);
      return {
        desired,
        segment: withServing(desired, record),
        record,
        rolledBack,
        deployment: this.stableDeployment(
          model,
          desired,
          record,
          promotingBehindCanary(model, desired, record),
        ),
      };
    });
  }

  async reconcile(
    model: RankingModel,
    plans: StablePlan[],
    provider: TrafficProvider,
    /** The provider's canaryServices (ProviderContext): kept in step with the canary Services here. */
    canaryServices: Set<string>,
    regarding: Regarding,
    log: Logger,
    now: Date,
  ): Promise<RolloutOutcome> {
    const { client, defaults } = this.deps;
    const ns = model.metadata.namespace;
    const name = model.metadata.name;
    const segments = plans.map((p) => p.desired);
    const prev = new Map((model.status?.segments ?? []).map((s) => [s.name, s]));
    const mode = model.spec.routing.mode;

    const states: SegmentRolloutState[] = [];
    for (const plan of plans) {
      const seg = plan.desired;
      const canaryName = deploymentName(name, seg.name, 'canary');
      const stableName = deploymentName(name, seg.name, 'stable');
      const rollout = new SegmentRollout({
        model,
        desired: seg,
        stable: plan.record,
        stableLive: this.deployment(ns, stableName),
        canaryLive: this.deployment(ns, canaryName),
        canaryRefusals: this.canaryRefusals(model, seg.name),
        rolledBack: plan.rolledBack,
        prev: prev.get(seg.name),
        controls: readControls(model, seg.name),
        now,
        provider,
        log,
        ops: {
          applyTrackServices: async (canary, rolledBack) => {
            // the stable backend is the segment's Service (traffic/services.ts), applied by the reconciler
            if (canary) {
              await this.applyTrackService(
                markRolledBack(buildTrackService(model, seg, 'canary'), rolledBack),
              );
              canaryServices.add(seg.name);
              return;
            }
            // routing stops naming it first (no weight: the segment has settled), then it goes
            const svc = trackServiceName(name, seg.name, 'canary');
            if (!canaryServices.delete(seg.name) && !this.live(SERVICES, ns, svc)) return;
            await provider.setWeight(seg.name, 0);
            await this.deps.owned.deleteIfPresent(SERVICES, ns, svc);
          },
          applyStable: (record, canaryTakesAll) =>
            this.apply(DEPLOYMENTS, this.stableDeployment(model, seg, record, canaryTakesAll)),
          applyCanary: async (replicas) => {
            const d = buildDeployment(model, seg, 'canary', defaults);
            await this.apply(DEPLOYMENTS, { ...d, spec: { ...d.spec, replicas } });
          },
          deleteCanary: async () => {
            await this.deps.owned.deleteIfPresent(DEPLOYMENTS, ns, canaryName);
          },
          capacity: () => {
            const built = buildDeployment(model, seg, 'canary', defaults);
            const tolerations =
              (built.spec.template as { spec: { tolerations?: [] } }).spec.tolerations ?? [];
            return readCapacity(client, seg.serving, tolerations).catch((err: unknown) => {
              // without cluster-wide read of pods the check is skipped, not the rollout
              if (err instanceof ApiError && err.status === 403) {
                log.warn(
                  { err: err.message },
                  'cannot read GPU capacity (RBAC); scaling the canary unchecked',
                );
                return undefined;
              }
              throw err;
            });
          },
          analyze: (input, interval) =>
            analyzeCanary(new PrometheusClient(model.spec.rollout.analysis!.prometheusAddress), {
              ...input,
              ...analysisWindows(interval),
            }),
          event: async (ev) => {
            await this.deps.events.record(regarding, ev);
          },
        },
      });
      states.push(await rollout.run());
    }
    await clearAnnotations(client, this.deps.modelsRef, model, ONE_SHOT);
    // the stable Services of an earlier version go once no router can still be sending to them
    const legacy = await retireLegacyStable(this.deps.owned, model, segments, now, log);

    const owned = {
      deployments: new Set(
        segments
          .filter((s) => this.deployment(ns, deploymentName(name, s.name, 'canary')))
          .map((s) => deploymentName(name, s.name, 'canary')),
      ),
      services: new Set([...segments.map((s) => trackServiceName(name, s.name, 'canary')), ...legacy.keep]),
    };
    if (mode === 'router') {
      owned.deployments.add(routerName(name));
      owned.services.add(routerName(name));
    }
    const waits = [...states.map((s) => s.requeueAfterMs), legacy.requeueAfterMs].filter(
      (x): x is number => x !== undefined,
    );
    return { segments: states, owned, requeueAfterMs: waits.length ? Math.min(...waits) : undefined };
  }

  /** Model refusals the segment's canary pods report (each once). */
  private canaryRefusals(model: RankingModel, segment: string): string[] {
    const { name, namespace } = model.metadata;
    const refusals = this.deps.pods
      .list((p) => {
        const l = p.metadata.labels ?? {};
        return (
          p.metadata.namespace === namespace &&
          l[LABEL_MODEL] === name &&
          l[LABEL_SEGMENT] === segment &&
          l[LABEL_TRACK] === 'canary' &&
          !p.metadata.deletionTimestamp
        );
      })
      .map((p) => p.metadata.annotations?.[PodAnnotation.ModelRefused])
      .filter((r): r is string => r !== undefined);
    return [...new Set(refusals)];
  }

  /** A per-track Service, recreated where its clusterIP must change (traffic/services.ts). */
  async applyTrackService(built: Service): Promise<void> {
    const { namespace, name } = built.metadata;
    const { recreate, desired } = planTrackService(built, this.live<Service>(SERVICES, namespace, name));
    if (recreate) await this.deps.owned.deleteIfPresent(SERVICES, namespace, name);
    await this.apply(SERVICES, desired);
  }

  /** Server-side apply unless the freshest copy already matches. */
  private async apply(ref: ResourceRef, desired: KubeObject): Promise<void> {
    await this.deps.owned.apply(ref, desired);
  }
}
