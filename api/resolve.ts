// Resolves the effective settings of each segment of a (parsed, defaulted) RankingModel spec: the
// default model and snapshot overridden per segment, the header values that select it, and the
// serving settings with the operator's defaults (image) filled in. Pure; the operator's builders,
// the router config and the canary logic all read segments through this.
import type { AutoscalingSpec } from './autoscaling.js';
import {
  type ModelRef,
  type RankingModelSpec,
  type SegmentSpec,
  type ServingSpec,
  type SnapshotSource,
} from './rankingmodel.js';

/** What the operator supplies from its own configuration. */
export interface OperatorDefaults {
  /** Server/sidecar image used when spec.serving.image is not set. */
  image: string;
}

export type ResolvedServing = Omit<ServingSpec, 'image'> & { image: string };

export interface ResolvedSegment {
  name: string;
  /**
   * Stable replicas: the spec's for a fixed segment (1 when unset); for an autoscaled one
   * minReplicas here, which the operator replaces with the stable Deployment's current count
   * (operator/autoscaling/replicas.ts).
   */
  replicas: number;
  /** The segment's autoscaling, else spec.serving.autoscaling; undefined for a fixed segment. */
  autoscaling?: AutoscalingSpec;
  /** The segment's model, else spec.model. */
  model: ModelRef;
  /** The segment's snapshot source, else spec.snapshot. */
  snapshot: SnapshotSource;
  /** Values of `headerName` that select this segment (the segment name when not given). */
  headerValues: string[];
  /** Serves requests whose header is missing or matches no segment (see defaultSegment). */
  isDefault: boolean;
  headerName: string;
  serving: ResolvedServing;
}

/** A spec the schema accepts but that cannot be resolved (the API server normally refuses it). */
export class SpecResolutionError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'SpecResolutionError';
  }
}

export function resolveSegment(
  spec: RankingModelSpec,
  segment: SegmentSpec,
  defaults: OperatorDefaults,
): ResolvedSegment {
  const index = spec.segments.indexOf(segment);
  const at = `spec.segments[${index >= 0 ? index : segment.name}]`;
  const model = segment.model ?? spec.model;
  if (!model) throw new SpecResolutionError('no model: set spec.model or the segment’s model', `${at}.model`);
  const snapshot = segment.snapshot ?? spec.snapshot;
  if (!snapshot)
    throw new SpecResolutionError(
      'no snapshot source: set spec.snapshot or the segment’s snapshot',
      `${at}.snapshot`,
    );
  // a segment's own replicas make it fixed, even under a serving-wide autoscaling default
  const autoscaling =
    segment.replicas === undefined ? (segment.autoscaling ?? spec.serving.autoscaling) : undefined;
  return {
    name: segment.name,
    replicas: segment.replicas ?? autoscaling?.minReplicas ?? 1,
    ...(autoscaling ? { autoscaling } : {}),
    model,
    snapshot,
    headerValues: segment.match.headerValues ?? [segment.name],
    isDefault: defaultSegment(spec) === segment,
    headerName: spec.routing.headerName,
    serving: { ...spec.serving, image: spec.serving.image ?? defaults.image },
  };
}

/** Every segment of the spec, in spec order. */
export function resolveSegments(spec: RankingModelSpec, defaults: OperatorDefaults): ResolvedSegment[] {
  return spec.segments.map((s) => resolveSegment(spec, s, defaults));
}

/** The segment that serves requests matching no header value: the one marked default, else the first. */
export function defaultSegment(spec: RankingModelSpec): SegmentSpec {
  const fallback = spec.segments.find((s) => s.match.default) ?? spec.segments[0];
  if (!fallback) throw new SpecResolutionError('at least one segment is required', 'spec.segments');
  return fallback;
}

/**
 * The segment a request goes to, given the value of the routing header (undefined when absent):
 * the segment listing that value, else the default segment.
 */
export function segmentForHeader(spec: RankingModelSpec, value: string | undefined): SegmentSpec {
  const matched =
    value === undefined
      ? undefined
      : spec.segments.find((s) => (s.match.headerValues ?? [s.name]).includes(value));
  return matched ?? defaultSegment(spec);
}
