// The built-snapshot part of the API (spec.snapshot.build, spec.model.itemTower): zod's mirror of
// the CEL rules that the API server enforces (test/cluster/api-validation.test.ts).
import { describe, expect, it } from 'vitest';
import { RankingModelSpecSchema, type RankingModelSpecInput } from './rankingmodel.js';
import { builtSpec } from './testing.js';

function problems(edit: (s: RankingModelSpecInput) => void): string[] {
  const spec = builtSpec();
  edit(spec);
  const r = RankingModelSpecSchema.safeParse(spec);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('snapshot.build', () => {
  it('fills in the defaults of a build', () => {
    const build = RankingModelSpecSchema.parse(builtSpec()).snapshot?.build;
    expect(build).toEqual({
      catalogue: { uri: 's3://catalogue/items', idColumn: 'id' },
      onModelChange: true,
      shards: 4,
      backoffLimitPerIndex: 2,
    });
  });

  it('takes the pods the way spec.serving takes them, with the same rule on GPUs', () => {
    expect(
      problems((s) => {
        s.snapshot!.build!.pods = { executionProvider: 'cpu', nodeSelector: { pool: 'batch' } };
      }),
    ).toEqual([]);
    expect(
      problems((s) => {
        s.snapshot!.build!.pods = { executionProvider: 'cuda', gpu: { count: 0 } };
      }),
    ).toEqual([]); // zod leaves this rule to the API server, as for spec.serving
  });

  it.each<[string, (s: RankingModelSpecInput) => void, string]>([
    [
      'parallelism above shards',
      (s) => (s.snapshot!.build!.parallelism = 5),
      'snapshot.build.parallelism: parallelism must not exceed shards',
    ],
    [
      'no schedule and no onModelChange',
      (s) => (s.snapshot!.build!.onModelChange = false),
      'snapshot.build: a build needs a schedule or onModelChange: true',
    ],
    [
      'a schedule that is not cron',
      (s) => (s.snapshot!.build!.schedule = 'nightly'),
      'must be a cron schedule',
    ],
    [
      'an HTTP snapshot uri (read-only storage)',
      (s) => (s.snapshot!.uri = 'https://cdn/snapshots'),
      'snapshot.uri: a built snapshot (build) is published to its uri, which must be s3:// or file://',
    ],
    [
      'a model without its item tower',
      (s) => delete s.model!.itemTower,
      "segments.0.model: a segment whose snapshot is built (snapshot.build) needs its model's itemTower",
    ],
    [
      'an item tower with a short sha256',
      (s) => (s.model!.itemTower!.sha256 = 'abc'),
      'model.itemTower.sha256: must be 64 lowercase hexadecimal characters',
    ],
    ['no shards', (s) => (s.snapshot!.build!.shards = 0), 'snapshot.build.shards'],
  ])('refuses %s', (_what, edit, expected) => {
    expect(problems(edit).join('\n')).toContain(expected);
  });

  it('accepts a schedule alone, and the @daily form', () => {
    expect(
      problems((s) => {
        s.snapshot!.build!.onModelChange = false;
        s.snapshot!.build!.schedule = '30 2 * * 1-5';
      }),
    ).toEqual([]);
    expect(problems((s) => (s.snapshot!.build!.schedule = '@daily'))).toEqual([]);
  });
});
