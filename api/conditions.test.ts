import { describe, expect, it } from 'vitest';
import {
  ConditionType,
  Reason,
  conditionsEqual,
  findCondition,
  isConditionTrue,
  setCondition,
  setConditions,
  toKubeTime,
} from './conditions.js';
import type { Condition } from './rankingmodel.js';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const t1 = new Date('2026-01-01T00:05:00.250Z');

const ready = (status: Condition['status'], reason: string = Reason.DeploymentsReady) => ({
  type: ConditionType.Ready,
  status,
  reason,
  message: 'm',
  observedGeneration: 1,
});

describe('setCondition', () => {
  it('appends a new condition stamped with now, at second precision', () => {
    const out = setCondition([], ready('True'), t1);
    expect(out).toEqual([{ ...ready('True'), lastTransitionTime: '2026-01-01T00:05:00Z' }]);
  });

  it('keeps lastTransitionTime when the status is unchanged, even if reason and message change', () => {
    const before = setCondition(undefined, ready('False', Reason.PodsPending), t0);
    const after = setCondition(before, { ...ready('False', Reason.CapacityBlocked), message: 'no GPU' }, t1);
    expect(after[0]).toMatchObject({
      reason: 'CapacityBlocked',
      message: 'no GPU',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
  });

  it('moves lastTransitionTime when the status flips, and leaves the input list alone', () => {
    const before = setCondition([], ready('False'), t0);
    const after = setCondition(before, ready('True'), t1);
    expect(after[0]?.lastTransitionTime).toBe('2026-01-01T00:05:00Z');
    expect(before[0]?.status).toBe('False');
  });

  it('replaces in place and keeps the other conditions', () => {
    const list = setConditions(
      [],
      [
        ready('False'),
        { type: ConditionType.Degraded, status: 'False', reason: Reason.AsExpected, message: '' },
      ],
      t0,
    );
    const out = setCondition(list, ready('True'), t1);
    expect(out.map((c) => c.type)).toEqual(['Ready', 'Degraded']);
    expect(isConditionTrue(out, 'Ready')).toBe(true);
    expect(findCondition(out, 'Degraded')?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
  });
});

describe('conditionsEqual', () => {
  const a = setConditions([], [ready('True'), { ...ready('False'), type: ConditionType.Progressing }], t0);

  it('is true for the same conditions in another order (so no status write is needed)', () => {
    expect(conditionsEqual(a, [...a].reverse())).toBe(true);
    expect(conditionsEqual(undefined, [])).toBe(true);
  });

  it('is false when any field differs', () => {
    expect(conditionsEqual(a, setCondition(a, { ...ready('True'), message: 'other' }, t1))).toBe(false);
    expect(conditionsEqual(a, setCondition(a, { ...ready('True'), observedGeneration: 2 }, t1))).toBe(false);
    expect(conditionsEqual(a, a.slice(1))).toBe(false);
  });

  it('is true after re-setting the same condition later (idempotent reconcile)', () => {
    expect(conditionsEqual(a, setCondition(a, ready('True'), t1))).toBe(true);
  });
});

it('toKubeTime drops milliseconds', () => {
  expect(toKubeTime(t1)).toBe('2026-01-01T00:05:00Z');
});
