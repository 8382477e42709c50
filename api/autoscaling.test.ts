// The autoscaling block of the RankingModel schema: defaults, the combinations zod refuses (the
// same rules the CRD's CEL enforces; test/cluster/api-validation.test.ts checks those on the API
// server), and how a segment resolves to fixed or autoscaled.
import { describe, expect, it } from 'vitest';
import { RankingModelSpecSchema, type RankingModelSpecInput } from './rankingmodel.js';
import { resolveSegments } from './resolve.js';
import { minimalSpec, twoSegmentSpec } from './testing.js';

function issues(spec: RankingModelSpecInput): string[] {
  const r = RankingModelSpecSchema.safeParse(spec);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const auto = { maxReplicas: 4, target: 50 };

describe('autoscaling', () => {
  it('fills in the HPA defaults: min 1, requests/s, scale down after 300 s', () => {
    const spec = minimalSpec();
    spec.segments[0]!.autoscaling = auto;
    const parsed = RankingModelSpecSchema.parse(spec);
    expect(parsed.segments[0]!.autoscaling).toEqual({
      engine: 'hpa',
      minReplicas: 1,
      maxReplicas: 4,
      metric: 'requestsPerSecond',
      target: 50,
      behavior: { scaleUpStabilizationSeconds: 0, scaleDownStabilizationSeconds: 300 },
    });
  });

  it.each<[string, (s: RankingModelSpecInput) => void, string]>([
    [
      'replicas and autoscaling on one segment',
      (s) => (s.segments[0] = { ...s.segments[0]!, replicas: 2, autoscaling: auto }),
      'segments.0.autoscaling: set replicas (a fixed segment) or autoscaling, not both',
    ],
    [
      'minReplicas above maxReplicas',
      (s) => (s.segments[0]!.autoscaling = { ...auto, minReplicas: 5 }),
      'segments.0.autoscaling.minReplicas: minReplicas must not exceed maxReplicas',
    ],
    [
      'scale to zero with an HPA',
      (s) => (s.segments[0]!.autoscaling = { ...auto, minReplicas: 0 }),
      'segments.0.autoscaling.minReplicas: minReplicas 0 (scale to zero) needs engine keda',
    ],
    [
      'KEDA on a Prometheus metric without a Prometheus',
      (s) => (s.segments[0]!.autoscaling = { ...auto, engine: 'keda' }),
      'segments.0.autoscaling.prometheusAddress: engine keda with a Prometheus metric needs prometheusAddress',
    ],
    [
      'CPU utilization without a CPU request',
      (s) => (s.serving = { autoscaling: { ...auto, metric: 'cpuUtilization', target: 70 } }),
      'serving.resources.requests.cpu: autoscaling on cpuUtilization needs serving.resources.requests.cpu',
    ],
    [
      'a zero target',
      (s) => (s.segments[0]!.autoscaling = { ...auto, target: 0 }),
      'segments.0.autoscaling.target: Too small',
    ],
    [
      'an unknown metric',
      (s) => (s.segments[0]!.autoscaling = { ...auto, metric: 'gpuUtilization' as 'cpuUtilization' }),
      'segments.0.autoscaling.metric: Invalid option',
    ],
  ])('refuses %s', (_name, edit, expected) => {
    const spec = minimalSpec();
    edit(spec);
    expect(issues(spec).join('\n')).toContain(expected);
  });

  it('accepts KEDA scaling to zero on CPU with a CPU request', () => {
    const spec = minimalSpec();
    spec.serving = { resources: { requests: { cpu: '500m' } } };
    spec.segments[0]!.autoscaling = { ...auto, engine: 'keda', minReplicas: 0, metric: 'cpuUtilization' };
    expect(issues(spec)).toEqual([]);
  });

  it('resolves: own autoscaling, else the serving default, and explicit replicas stay fixed', () => {
    const spec = twoSegmentSpec(); // standard: replicas 2; shopping: nothing of its own
    spec.serving = { autoscaling: { ...auto, minReplicas: 2 } };
    spec.segments.push({
      name: 'tail',
      autoscaling: { maxReplicas: 9, target: 3, metric: 'inFlightRequests' },
    });
    const [standard, shopping, tail] = resolveSegments(RankingModelSpecSchema.parse(spec), { image: 'img' });
    expect(standard).toMatchObject({ replicas: 2 });
    expect(standard!.autoscaling).toBeUndefined();
    expect(shopping).toMatchObject({ replicas: 2, autoscaling: { minReplicas: 2, maxReplicas: 4 } });
    expect(tail).toMatchObject({ replicas: 1, autoscaling: { maxReplicas: 9, metric: 'inFlightRequests' } });
  });

  it('a segment with neither runs one fixed pod', () => {
    const [main] = resolveSegments(RankingModelSpecSchema.parse(minimalSpec()), { image: 'img' });
    expect(main!.replicas).toBe(1);
    expect(main!.autoscaling).toBeUndefined();
  });
});
