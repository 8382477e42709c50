// The `autoscaling` block of a segment (and its default at spec.serving.autoscaling): min/max
// replicas, the per-pod metric and target the autoscaler holds, the scale-up/down stabilisation
// windows, and which autoscaler the operator writes (an autoscaling/v2 HorizontalPodAutoscaler, or
// a KEDA ScaledObject). Part of the one RankingModel schema (rankingmodel.ts imports it); what the
// operator writes from it is operator/autoscaling/. Metric names: docs/autoscaling.md.
import { z } from 'zod';

/**
 * The per-pod signals a segment can scale on. The first three come from the custom metrics API
 * (prometheus-adapter reading the scoring pods' own metrics); cpuUtilization from the resource
 * metrics API, as a share of the server container's CPU request.
 */
export const AUTOSCALING_METRICS = [
  'requestsPerSecond',
  'inFlightRequests',
  'queueDelayMilliseconds',
  'cpuUtilization',
] as const;
export type AutoscalingMetric = (typeof AUTOSCALING_METRICS)[number];

export const AUTOSCALING_ENGINES = ['hpa', 'keda'] as const;

const MIN_MAX_MESSAGE = 'minReplicas must not exceed maxReplicas';
const ZERO_MESSAGE =
  'minReplicas 0 (scale to zero) needs engine keda: a HorizontalPodAutoscaler keeps at least 1 replica';
const KEDA_PROMETHEUS_MESSAGE =
  'engine keda with a Prometheus metric needs prometheusAddress (the Prometheus its trigger queries)';

export const AutoscalingBehaviorSchema = z
  .object({
    scaleUpStabilizationSeconds: z.int().min(0).max(3600).default(0).meta({
      description:
        'Scale up to the lowest count recommended over this many seconds (0: at once, the HorizontalPodAutoscaler default).',
    }),
    scaleDownStabilizationSeconds: z.int().min(0).max(3600).default(300).meta({
      description:
        'Scale down only to the highest count recommended over this many seconds (300: the HorizontalPodAutoscaler default), so a dip in load does not remove pods that the next minute needs.',
    }),
  })
  .meta({ description: 'How fast the autoscaler follows the metric: stabilisation windows.' });

export const AutoscalingSpecSchema = z
  .object({
    engine: z.enum(AUTOSCALING_ENGINES).default('hpa').meta({
      description:
        'hpa: an autoscaling/v2 HorizontalPodAutoscaler (custom metrics from prometheus-adapter); keda: a KEDA ScaledObject with a Prometheus trigger, for clusters that run KEDA.',
    }),
    minReplicas: z.int().min(0).max(1000).default(1).meta({
      description: 'Fewest stable scoring pods of the segment (0 only with engine keda).',
    }),
    maxReplicas: z.int().min(1).max(1000).meta({
      description: 'Most stable scoring pods of the segment (each requests its GPUs).',
    }),
    metric: z.enum(AUTOSCALING_METRICS).default('requestsPerSecond').meta({
      description:
        'Per-pod signal held at target: requestsPerSecond (ranking and inference requests/s), inFlightRequests (requests being served at once), queueDelayMilliseconds (mean wait for a batch), or cpuUtilization (percent of the CPU request; needs serving.resources.requests.cpu).',
    }),
    target: z.number().min(0.001).max(1_000_000).meta({
      description:
        'Value of the metric per pod the autoscaler holds, averaged over the pods: requests/s, requests, milliseconds, or percent.',
    }),
    behavior: AutoscalingBehaviorSchema.default(() => AutoscalingBehaviorSchema.parse({})),
    prometheusAddress: z
      .string()
      .max(512)
      .regex(/^https?:\/\/.+$/, 'must be an http:// or https:// URL')
      .optional()
      .meta({
        description:
          'engine keda: base URL of the Prometheus the ScaledObject trigger queries (e.g. http://prometheus.monitoring:9090).',
        'x-kubernetes-validations': [
          { rule: "self.matches('^https?://.+$')", message: 'must be an http:// or https:// URL' },
        ],
      }),
  })
  .superRefine((a, ctx) => {
    if (a.minReplicas > a.maxReplicas)
      ctx.addIssue({ code: 'custom', message: MIN_MAX_MESSAGE, path: ['minReplicas'] });
    if (a.minReplicas === 0 && a.engine !== 'keda')
      ctx.addIssue({ code: 'custom', message: ZERO_MESSAGE, path: ['minReplicas'] });
    if (a.engine === 'keda' && a.metric !== 'cpuUtilization' && !a.prometheusAddress)
      ctx.addIssue({ code: 'custom', message: KEDA_PROMETHEUS_MESSAGE, path: ['prometheusAddress'] });
  })
  .meta({
    description:
      'Scale the stable track on its own load between minReplicas and maxReplicas (the canary follows the stable count during a rollout).',
    'x-kubernetes-validations': [
      { rule: 'self.minReplicas <= self.maxReplicas', message: MIN_MAX_MESSAGE, fieldPath: '.minReplicas' },
      {
        rule: "self.minReplicas >= 1 || self.engine == 'keda'",
        message: ZERO_MESSAGE,
        fieldPath: '.minReplicas',
      },
      {
        rule: "self.engine != 'keda' || self.metric == 'cpuUtilization' || has(self.prometheusAddress)",
        message: KEDA_PROMETHEUS_MESSAGE,
      },
    ],
  });

export type AutoscalingSpec = z.infer<typeof AutoscalingSpecSchema>;
export type AutoscalingBehavior = z.infer<typeof AutoscalingBehaviorSchema>;

export const REPLICAS_XOR_AUTOSCALING_MESSAGE = 'set replicas (a fixed segment) or autoscaling, not both';
export const CPU_REQUEST_MESSAGE =
  'autoscaling on cpuUtilization needs serving.resources.requests.cpu: utilization is a share of the request';

/** CEL, on the spec: a cpuUtilization autoscaler somewhere needs the server's CPU request. */
export const CPU_REQUEST_RULE =
  "!((has(self.serving) && has(self.serving.autoscaling) && self.serving.autoscaling.metric == 'cpuUtilization') || self.segments.exists(s, has(s.autoscaling) && s.autoscaling.metric == 'cpuUtilization')) || (has(self.serving) && has(self.serving.resources) && has(self.serving.resources.requests) && has(self.serving.resources.requests.cpu))";
