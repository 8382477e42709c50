// The autoscaling pieces as pure functions: the HPA and ScaledObject the operator writes, the
// stable Deployment without replicas, the segment's current scale, and the ScaleLimited verdict.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  RankingModelSpecSchema,
  type RankingModel,
  type RankingModelSpecInput,
} from '../../api/rankingmodel.js';
import { resolveSegments, type ResolvedSegment } from '../../api/resolve.js';
import { minimalSpec } from '../../api/testing.js';
import { buildDeployment, type Deployment } from '../builders.js';
import type { KubeObject } from '../runtime/kube/types.js';
import { ADAPTER_RULES, CUSTOM_METRIC_NAMES, targetQuantity } from './metrics.js';
import { buildHpa, buildScaledObject } from './objects.js';
import { AUTOSCALED_ANNOTATION, leaveReplicasToAutoscaler, withCurrentScale } from './replicas.js';
import { observeAutoscaler, scaleColumn, scaleLimited } from './status.js';

function model(edit: (s: RankingModelSpecInput) => void = () => {}): RankingModel {
  const spec = minimalSpec();
  spec.segments = [
    { name: 'standard', autoscaling: { minReplicas: 2, maxReplicas: 6, target: 40 } },
    { name: 'shopping', replicas: 1 },
  ];
  edit(spec);
  return {
    apiVersion: 'lightrank.dev/v1alpha1',
    kind: 'RankingModel',
    metadata: { name: 'ads', namespace: 'team', uid: 'uid-1' },
    spec: RankingModelSpecSchema.parse(spec),
  };
}

const segs = (m: RankingModel) => resolveSegments(m.spec, { image: 'img' });

describe('the HPA', () => {
  it('targets the stable Deployment with a Pods metric from the custom metrics API', () => {
    const m = model();
    const hpa = buildHpa(m, segs(m)[0]!);
    expect(hpa).toMatchObject({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: {
        name: 'ads-standard',
        namespace: 'team',
        ownerReferences: [{ uid: 'uid-1', controller: true }],
      },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ads-standard' },
        minReplicas: 2,
        maxReplicas: 6,
        metrics: [
          {
            type: 'Pods',
            pods: {
              metric: { name: 'lightrank_requests_per_second' },
              target: { type: 'AverageValue', averageValue: '40' },
            },
          },
        ],
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0 },
          scaleDown: { stabilizationWindowSeconds: 300 },
        },
      },
    });
    // no version label: a promotion does not touch the HPA
    expect(hpa.metadata.labels).not.toHaveProperty(['app.kubernetes.io/version']);
  });

  it('during a rollout holds its floor at the stable’s current count (within maxReplicas)', () => {
    const m = model();
    const seg = segs(m)[0]!; // min 2, max 6
    expect(buildHpa(m, { ...seg, replicas: 4 }, true).spec.minReplicas).toBe(4);
    expect(buildHpa(m, { ...seg, replicas: 4 }, false).spec.minReplicas).toBe(2);
    expect(buildHpa(m, { ...seg, replicas: 9 }, true).spec.minReplicas).toBe(6);
    expect(
      buildScaledObject(
        m,
        {
          ...seg,
          replicas: 3,
          autoscaling: { ...seg.autoscaling!, engine: 'keda', prometheusAddress: 'http://p:9090' },
        },
        true,
      ).spec.minReplicaCount,
    ).toBe(3);
  });

  it('scales on the server container’s CPU for cpuUtilization', () => {
    const m = model((s) => {
      s.serving = { resources: { requests: { cpu: '1' } } };
      s.segments[0]!.autoscaling = { maxReplicas: 3, target: 70, metric: 'cpuUtilization' };
    });
    expect(buildHpa(m, segs(m)[0]!).spec.metrics).toEqual([
      {
        type: 'ContainerResource',
        containerResource: {
          name: 'cpu',
          container: 'server',
          target: { type: 'Utilization', averageUtilization: 70 },
        },
      },
    ]);
  });

  it('writes targets as quantities', () => {
    expect(targetQuantity(2.5)).toBe('2500m');
    expect(targetQuantity(4)).toBe('4');
  });

  it('the chart carries the adapter rules as npm run gen writes them', () => {
    const file = join(
      dirname(fileURLToPath(import.meta.url)),
      '../../charts/lightrank/files/prometheus-adapter-rules.yaml',
    );
    expect(parse(readFileSync(file, 'utf8'))).toEqual(ADAPTER_RULES);
  });

  it('every custom metric has an adapter rule serving its name', () => {
    const served = ADAPTER_RULES.rules.map((r) => r.name.as);
    expect(served.sort()).toEqual(Object.values(CUSTOM_METRIC_NAMES).sort());
  });
});

describe('the KEDA ScaledObject', () => {
  it('carries the same bounds and windows and a Prometheus trigger on the stable pods', () => {
    const m = model((s) => {
      s.segments[0]!.autoscaling = {
        engine: 'keda',
        minReplicas: 0,
        maxReplicas: 5,
        target: 3,
        metric: 'inFlightRequests',
        prometheusAddress: 'http://prom:9090',
        behavior: { scaleDownStabilizationSeconds: 60 },
      };
    });
    const so = buildScaledObject(m, segs(m)[0]!);
    expect(so).toMatchObject({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'ads-standard' },
      spec: {
        scaleTargetRef: { name: 'ads-standard' },
        minReplicaCount: 0,
        maxReplicaCount: 5,
        advanced: {
          horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } },
        },
        triggers: [
          {
            type: 'prometheus',
            metricType: 'AverageValue',
            metadata: { serverAddress: 'http://prom:9090', threshold: '3' },
          },
        ],
      },
    });
    const query = (so.spec.triggers as { metadata: { query: string } }[])[0]!.metadata.query;
    expect(query).toContain('namespace="team",model="ads",segment="standard",track="stable"');
    expect(query).toContain('lightrank_server_request_duration_seconds_sum');
  });
});

describe('replicas', () => {
  const m = model();
  const [standard, shopping] = segs(m) as [ResolvedSegment, ResolvedSegment];
  const live = (replicas: number) => ({ metadata: { name: 'x' }, spec: { replicas } }) as Deployment;

  it('the autoscaled stable Deployment leaves replicas out and says who sets them', () => {
    const d = leaveReplicasToAutoscaler(
      buildDeployment(m, standard, 'stable', { sidecarImage: 's' }),
      standard,
    );
    expect(d.spec).not.toHaveProperty('replicas');
    expect(d.metadata.annotations?.[AUTOSCALED_ANNOTATION]).toBe('hpa');
    const fixed = leaveReplicasToAutoscaler(
      buildDeployment(m, shopping, 'stable', { sidecarImage: 's' }),
      shopping,
    );
    expect(fixed.spec.replicas).toBe(1);
  });

  it('an autoscaled segment counts what its Deployment runs now, within its bounds', () => {
    expect(withCurrentScale(standard, undefined).replicas).toBe(2);
    expect(withCurrentScale(standard, live(5)).replicas).toBe(5);
    expect(withCurrentScale(standard, live(9)).replicas).toBe(6);
    expect(withCurrentScale(standard, live(1)).replicas).toBe(2);
    expect(withCurrentScale(shopping, live(7)).replicas).toBe(1); // fixed: the spec's
  });
});

describe('ScaleLimited', () => {
  const m = model();
  const [standard, shopping] = segs(m) as [ResolvedSegment, ResolvedSegment];
  const dep = (spec: number, replicas: number, ready: number) =>
    ({
      metadata: { name: 'd' },
      spec: { replicas: spec },
      status: { replicas, readyReplicas: ready },
    }) as Deployment;
  const pending = (message: string, track = 'stable'): KubeObject => ({
    metadata: { name: `p-${Math.random()}`, labels: { 'lightrank.dev/track': track } },
    status: {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }],
    },
  });
  const hpa = (desiredReplicas: number, conditions: unknown[] = []) =>
    observeAutoscaler('HorizontalPodAutoscaler', 'ads-standard', {
      metadata: { name: 'ads-standard' },
      status: { desiredReplicas, conditions },
    });
  const GPU = '0/2 nodes are available: 2 Insufficient nvidia.com/gpu.';

  it('takes an HPA that has not decided yet (desiredReplicas 0) as no wish', () => {
    const fresh = hpa(0);
    expect(fresh.desiredReplicas).toBeUndefined();
    expect(scaleColumn([{ segment: standard, deployment: dep(1, 1, 1), autoscaler: fresh }])).toBe('1/1');
  });

  it('is absent when no segment autoscales', () => {
    expect(scaleLimited([{ segment: shopping, deployment: dep(1, 1, 1) }])).toBeUndefined();
  });

  it('names desired vs ready and the scheduler’s reason when a scale-up cannot be placed', () => {
    const v = scaleLimited([
      {
        segment: standard,
        deployment: dep(5, 5, 3),
        pods: [pending(GPU), pending(GPU), pending(GPU, 'canary')],
        autoscaler: hpa(5),
      },
      { segment: shopping, deployment: dep(1, 1, 1) },
    ]);
    expect(v).toEqual({
      status: 'True',
      reason: 'PodsUnschedulable',
      message: `standard: the autoscaler wants 5 pods, 3 ready; 2 pod(s) cannot be scheduled: ${GPU}`,
    });
  });

  it('reports an HPA that cannot read its metric before one held at its maximum', () => {
    const conditions = [
      {
        type: 'ScalingActive',
        status: 'False',
        reason: 'FailedGetPodsMetric',
        message: 'no metrics returned',
      },
      {
        type: 'ScalingLimited',
        status: 'True',
        reason: 'TooManyReplicas',
        message: 'the desired replica count is more than the maximum replica count',
      },
    ];
    const v = scaleLimited([{ segment: standard, deployment: dep(6, 6, 6), autoscaler: hpa(6, conditions) }]);
    expect(v?.reason).toBe('MetricsUnavailable');
    expect(v?.message).toContain('FailedGetPodsMetric: no metrics returned');
    const max = scaleLimited([
      { segment: standard, deployment: dep(6, 6, 6), autoscaler: hpa(6, [conditions[1]]) },
    ]);
    expect(max).toMatchObject({ status: 'True', reason: 'AtMaxReplicas' });
    expect(max?.message).toContain('held at maxReplicas 6');
  });

  it('is False within limits, and the scale column shows desired/current per segment', () => {
    const obs = [
      { segment: standard, deployment: dep(4, 4, 4), autoscaler: hpa(5) },
      { segment: shopping, deployment: dep(1, 1, 1) },
    ];
    expect(scaleLimited(obs)).toEqual({
      status: 'False',
      reason: 'WithinLimits',
      message: 'standard: 4/5 ready (2-6)',
    });
    expect(scaleColumn(obs)).toBe('standard=5/4,shopping=1/1');
    expect(scaleColumn([obs[1]!])).toBe('1/1');
  });
});
