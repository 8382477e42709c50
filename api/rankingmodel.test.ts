import { describe, expect, it } from 'vitest';
import {
  MAX_NAME_PLUS_SEGMENT,
  RankingModelSchema,
  RankingModelSpecSchema,
  RankingModelStatusSchema,
  type RankingModelSpecInput,
} from './rankingmodel.js';
import { minimalSpec, twoSegmentSpec } from './testing.js';

/** The messages of the issues zod reports for `spec`, as `path: message`. */
function problems(spec: unknown): string[] {
  const r = RankingModelSpecSchema.safeParse(spec);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

function withSpec(edit: (s: RankingModelSpecInput) => void): RankingModelSpecInput {
  const s = twoSegmentSpec();
  edit(s);
  return s;
}

describe('RankingModelSpecSchema', () => {
  it('fills in the defaults of a minimal spec', () => {
    const spec = RankingModelSpecSchema.parse(minimalSpec());
    expect(spec.snapshot?.pollIntervalSeconds).toBe(30);
    expect(spec.segments[0]).toEqual({ name: 'main', match: { default: true } });
    expect(spec.serving).toEqual({
      executionProvider: 'cuda',
      gpu: { resourceName: 'nvidia.com/gpu', count: 1 },
      batching: { maxBatchSize: 64, maxQueueDelayMicroseconds: 2000 },
    });
    expect(spec.rollout.steps.map((s) => s.weight)).toEqual([10, 50, 100]);
    expect(spec.rollout.autoRollback).toBe(true);
    expect(spec.rollout.progressDeadlineSeconds).toBe(600);
    expect(spec.routing).toEqual({
      mode: 'router',
      headerName: 'x-lightrank-segment',
      routerScope: 'model',
    });
  });

  it('accepts per-segment overrides without a default model', () => {
    const s = twoSegmentSpec();
    s.segments[0]!.model = s.model;
    s.segments[0]!.snapshot = s.snapshot;
    delete s.model;
    delete s.snapshot;
    expect(problems(s)).toEqual([]);
  });

  it.each<[string, (s: RankingModelSpecInput) => void, string]>([
    ['bad URI scheme', (s) => (s.model!.uri = 'ftp://x/y.onnx'), 'model.uri: must be a file://'],
    ['short sha256', (s) => (s.model!.sha256 = 'abc'), 'model.sha256: must be 64 lowercase'],
    ['upper-case sha256', (s) => (s.model!.sha256 = 'A'.repeat(64)), 'model.sha256: must be 64 lowercase'],
    [
      'segment name not DNS-1123',
      (s) => (s.segments[0]!.name = 'Standard'),
      'segments.0.name: must be a DNS-1123',
    ],
    [
      'segment name the router takes',
      (s) => (s.segments[0]!.name = 'router'),
      "segments.0.name: must not be 'router'",
    ],
    [
      "segment name another segment's stable track takes",
      (s) => (s.segments[0]!.name = 'shop-stable'),
      "segments.0.name: must not be 'router' or end in '-stable'",
    ],
    [
      'duplicate segment',
      (s) => (s.segments[1]!.name = 'standard'),
      'segments.1.name: segment name standard is used twice',
    ],
    [
      'two defaults',
      (s) => (s.segments[1]!.match = { default: true }),
      'segments: at most one segment may be the default',
    ],
    [
      'shared header value',
      (s) => (s.segments[1]!.match = { headerValues: ['standard'] }),
      'segments.1.match.headerValues: header value standard selects both standard and shopping',
    ],
    ['duplicate task', (s) => (s.model!.tasks = ['ctr', 'ctr']), 'model.tasks: task names must be unique'],
    [
      'no model at all',
      (s) => delete s.model,
      'segments.0.model: spec.model or segments[].model is required',
    ],
    [
      'weights not ascending',
      (s) => (s.rollout = { steps: [{ weight: 50 }, { weight: 20 }, { weight: 100 }] }),
      'rollout.steps.1.weight: step weights must be strictly ascending',
    ],
    [
      'last weight not 100',
      (s) => (s.rollout = { steps: [{ weight: 10 }, { weight: 50 }] }),
      'rollout.steps: the last step must have weight 100',
    ],
    [
      'unknown provider',
      (s) => (s.serving = { executionProvider: 'tpu' as 'cpu' }),
      'serving.executionProvider',
    ],
    ['replicas < 0', (s) => (s.segments[0]!.replicas = -1), 'segments.0.replicas'],
    [
      'bad quantity',
      (s) => (s.serving = { resources: { requests: { memory: 'lots' } } }),
      'serving.resources.requests.memory',
    ],
  ])('refuses %s', (_name, edit, expected) => {
    const found = problems(withSpec(edit));
    expect(
      found.some((p) => p.startsWith(expected)),
      found.join('\n'),
    ).toBe(true);
  });
});

describe('RankingModelSchema', () => {
  it('parses a whole object as read from the API server, keeping unknown metadata', () => {
    const rm = RankingModelSchema.parse({
      apiVersion: 'lightrank.dev/v1alpha1',
      kind: 'RankingModel',
      metadata: { name: 'ranker', namespace: 'ads', generation: 3, managedFields: [] },
      spec: minimalSpec(),
      status: {
        observedGeneration: 2,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'DeploymentsReady',
            message: '',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
        segments: [{ name: 'main', readyReplicas: 1, stableVersion: 'v1' }],
      },
    });
    expect(rm.metadata).toMatchObject({ name: 'ranker', generation: 3, managedFields: [] });
    expect(rm.status?.segments?.[0]).toMatchObject({ replicas: 0, canaryWeight: 0, rolloutPhase: 'Stable' });
  });

  it('refuses another kind', () => {
    expect(() =>
      RankingModelSchema.parse({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'x' },
        spec: minimalSpec(),
      }),
    ).toThrow(/apiVersion/);
  });

  it('refuses a condition with an unknown status', () => {
    const r = RankingModelStatusSchema.safeParse({
      conditions: [
        {
          type: 'Ready',
          status: 'Maybe',
          reason: 'X',
          message: '',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    });
    expect(r.success).toBe(false);
  });
});

describe('RankingModelSchema names', () => {
  const rm = (name: string, segment = 'main') => ({
    apiVersion: 'lightrank.dev/v1alpha1',
    kind: 'RankingModel',
    metadata: { name },
    spec: { ...minimalSpec(), segments: [{ name: segment }] },
  });
  it('refuses a name that cannot prefix a Service name', () => {
    expect(() => RankingModelSchema.parse(rm('ads.ranker'))).toThrow(/DNS-1035/);
  });
  it(`refuses a name and segment longer than ${MAX_NAME_PLUS_SEGMENT} together, accepts exactly that`, () => {
    expect(() => RankingModelSchema.parse(rm('r'.repeat(MAX_NAME_PLUS_SEGMENT - 3), 'segm'))).toThrow(
      /must not exceed/,
    );
    expect(
      RankingModelSchema.parse(rm('r'.repeat(MAX_NAME_PLUS_SEGMENT - 4), 'segm')).metadata.name,
    ).toHaveLength(51);
  });
});

describe('routing.routerScope', () => {
  it('takes namespace in router mode and refuses it in gatewayAPI mode, naming the field', () => {
    const base = minimalSpec();
    expect(
      RankingModelSpecSchema.parse({ ...base, routing: { routerScope: 'namespace' } }).routing.routerScope,
    ).toBe('namespace');
    const bad = RankingModelSpecSchema.safeParse({
      ...base,
      routing: { mode: 'gatewayAPI', routerScope: 'namespace', parentRefs: [{ name: 'gw' }] },
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'routing.routerScope: routerScope namespace needs mode router: in gatewayAPI mode the HTTPRoutes route each model, there is no router to share',
    ]);
  });
});
