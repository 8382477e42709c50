import { describe, expect, it } from 'vitest';
import { RankingModelSpecSchema } from './rankingmodel.js';
import { SpecResolutionError, defaultSegment, resolveSegments, segmentForHeader } from './resolve.js';
import { minimalSpec, twoSegmentSpec } from './testing.js';

const defaults = { image: 'ghcr.io/lightrank/server:0.1.0' };

describe('resolveSegments', () => {
  it('gives each segment the default model and snapshot unless it overrides them', () => {
    const spec = RankingModelSpecSchema.parse(twoSegmentSpec());
    const [standard, shopping] = resolveSegments(spec, defaults);
    expect(standard).toMatchObject({
      name: 'standard',
      replicas: 2,
      model: { version: 'v1', towerFingerprint: 'fp-1' },
      snapshot: { uri: 's3://snapshots/ranker', pollIntervalSeconds: 30 },
      headerValues: ['standard'],
      isDefault: true,
      headerName: 'x-lightrank-segment',
    });
    expect(shopping).toMatchObject({
      model: { version: 'v7', towerFingerprint: 'fp-shop', tasks: ['ctr'] },
      snapshot: { uri: 'file:///var/snapshots/shopping', pollIntervalSeconds: 10 },
      headerValues: ['shopping', 'shop'],
      isDefault: false,
    });
  });

  it("uses the operator's image unless the spec names one", () => {
    const spec = RankingModelSpecSchema.parse(minimalSpec());
    expect(resolveSegments(spec, defaults)[0]?.serving.image).toBe(defaults.image);
    const own = RankingModelSpecSchema.parse({
      ...minimalSpec(),
      serving: { image: 'my/server:2', executionProvider: 'cpu' },
    });
    expect(resolveSegments(own, defaults)[0]?.serving).toMatchObject({
      image: 'my/server:2',
      executionProvider: 'cpu',
    });
  });

  it('throws a SpecResolutionError naming the field when a segment has no model', () => {
    const spec = RankingModelSpecSchema.parse(minimalSpec());
    delete spec.model;
    expect(() => resolveSegments(spec, defaults)).toThrow(SpecResolutionError);
    expect(() => resolveSegments(spec, defaults)).toThrow(/spec\.segments\[0\]\.model/);
  });
});

describe('segmentForHeader', () => {
  const spec = RankingModelSpecSchema.parse(twoSegmentSpec());
  it('matches header values, falls back to the default segment', () => {
    expect(segmentForHeader(spec, 'shop')?.name).toBe('shopping');
    expect(segmentForHeader(spec, 'standard')?.name).toBe('standard');
    expect(segmentForHeader(spec, 'unknown')?.name).toBe('standard');
    expect(segmentForHeader(spec, undefined)?.name).toBe('standard');
  });
  it('falls back to the first segment when none is marked default', () => {
    const noDefault = RankingModelSpecSchema.parse({
      ...minimalSpec(),
      segments: [{ name: 'a' }, { name: 'b' }],
    });
    expect(defaultSegment(noDefault).name).toBe('a');
    expect(segmentForHeader(noDefault, 'c')?.name).toBe('a');
    expect(segmentForHeader(noDefault, 'b')?.name).toBe('b');
    expect(resolveSegments(noDefault, defaults).map((s) => s.isDefault)).toEqual([true, false]);
  });
});
