// Desired autoscalers as pure functions (like builders.ts): for an autoscaled segment, either an
// autoscaling/v2 HorizontalPodAutoscaler or a KEDA ScaledObject, named like the segment's stable
// Deployment (`<model>-<segment>`), targeting it, owned by the model. The stable Deployment is the
// only target: canary pods are left out of the metric (the scale subresource's selector is the
// stable track's), and the canary follows the stable count (operator/autoscaling/replicas.ts).
import type { AutoscalingSpec } from '../../api/autoscaling.js';
import type { RankingModel } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import { LABEL_SEGMENT, deploymentName, ownerReference, scoringLabels } from '../builders.js';
import type { KubeObject } from '../runtime/kube/types.js';
import { CUSTOM_METRIC_NAMES, segmentQuery, targetQuantity } from './metrics.js';

export type Autoscaler = KubeObject & { apiVersion: string; kind: string; spec: Record<string, unknown> };

/** The container the CPU target is measured on (the sidecar's CPU is not the load). */
export const SERVER_CONTAINER = 'server';

/** Name of a segment's autoscaler: its stable Deployment's. */
export function autoscalerName(model: string, segment: string): string {
  return deploymentName(model, segment, 'stable');
}

function meta(model: RankingModel, seg: ResolvedSegment) {
  const name = model.metadata.name;
  return {
    name: autoscalerName(name, seg.name),
    namespace: model.metadata.namespace,
    // no version label: a promotion does not rewrite the autoscaler
    labels: { ...scoringLabels(name), [LABEL_SEGMENT]: seg.name },
    ownerReferences: [ownerReference(model)],
  };
}

function scaleTargetRef(model: RankingModel, seg: ResolvedSegment) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    name: deploymentName(model.metadata.name, seg.name, 'stable'),
  };
}

function behavior(a: AutoscalingSpec) {
  return {
    scaleUp: { stabilizationWindowSeconds: a.behavior.scaleUpStabilizationSeconds },
    scaleDown: { stabilizationWindowSeconds: a.behavior.scaleDownStabilizationSeconds },
  };
}

/** The HPA's metric: a Pods metric from the custom metrics API, or the server container's CPU. */
export function hpaMetric(a: AutoscalingSpec): Record<string, unknown> {
  if (a.metric === 'cpuUtilization')
    return {
      type: 'ContainerResource',
      containerResource: {
        name: 'cpu',
        container: SERVER_CONTAINER,
        target: { type: 'Utilization', averageUtilization: Math.round(a.target) },
      },
    };
  return {
    type: 'Pods',
    pods: {
      metric: { name: CUSTOM_METRIC_NAMES[a.metric] },
      target: { type: 'AverageValue', averageValue: targetQuantity(a.target) },
    },
  };
}

/**
 * The autoscaler's floor: the spec's minReplicas, or during a rollout the stable's current count
 * (never above maxReplicas). The HPA sees the stable pods only; as the canary's weight grows their
 * load falls, and an HPA free to follow it would shrink the stable, and the canary sized from it,
 * below what the segment's traffic needs. Holding the floor keeps the stable at its pre-rollout
 * size or above, as Argo Rollouts keeps its stable at full size during a canary; when the rollout
 * ends the floor is the spec's again and the autoscaler scales down as usual.
 */
export function floorOf(seg: ResolvedSegment, rollingOut: boolean): number {
  const a = requireAutoscaling(seg);
  return rollingOut ? Math.min(a.maxReplicas, Math.max(a.minReplicas, seg.replicas)) : a.minReplicas;
}

export function buildHpa(model: RankingModel, seg: ResolvedSegment, rollingOut = false): Autoscaler {
  const a = requireAutoscaling(seg);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(model, seg),
    spec: {
      scaleTargetRef: scaleTargetRef(model, seg),
      minReplicas: floorOf(seg, rollingOut),
      maxReplicas: a.maxReplicas,
      metrics: [hpaMetric(a)],
      behavior: behavior(a),
    },
  };
}

/** KEDA's ScaledObject: the same bounds and windows, the signal as a Prometheus (or cpu) trigger. */
export function buildScaledObject(model: RankingModel, seg: ResolvedSegment, rollingOut = false): Autoscaler {
  const a = requireAutoscaling(seg);
  let trigger: Record<string, unknown>;
  if (a.metric === 'cpuUtilization') {
    trigger = {
      type: 'cpu',
      metricType: 'Utilization',
      metadata: { value: String(Math.round(a.target)), containerName: SERVER_CONTAINER },
    };
  } else {
    const { query, metricType } = segmentQuery(a.metric, {
      namespace: model.metadata.namespace ?? 'default',
      model: model.metadata.name,
      segment: seg.name,
    });
    trigger = {
      type: 'prometheus',
      metricType,
      metadata: { serverAddress: a.prometheusAddress!, query, threshold: String(a.target) },
    };
  }
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: meta(model, seg),
    spec: {
      scaleTargetRef: scaleTargetRef(model, seg),
      minReplicaCount: floorOf(seg, rollingOut),
      maxReplicaCount: a.maxReplicas,
      advanced: { horizontalPodAutoscalerConfig: { behavior: behavior(a) } },
      triggers: [trigger],
    },
  };
}

function requireAutoscaling(seg: ResolvedSegment): AutoscalingSpec {
  if (!seg.autoscaling) throw new Error(`segment ${seg.name} is not autoscaled`);
  return seg.autoscaling;
}
