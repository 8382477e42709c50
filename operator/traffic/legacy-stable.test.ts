import { describe, expect, it } from 'vitest';
import type { Service } from '../builders.js';
import { legacyStablePlan, UNROUTED_SINCE_ANNOTATION } from './legacy-stable.js';

const svc = (since?: string): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: {
    name: 'ads-standard-stable',
    namespace: 'prod',
    ...(since ? { annotations: { [UNROUTED_SINCE_ANNOTATION]: since } } : {}),
  },
  spec: { clusterIP: 'None', selector: {}, ports: [] },
});

describe("an earlier version's stable Service", () => {
  const now = new Date('2026-12-06T09:00:00.000Z');

  it('is left alone when there is none', () => {
    expect(legacyStablePlan(undefined, now, 30)).toEqual({ action: 'none' });
  });

  it('is marked with the time routing stopped naming it, first (also when the mark is unreadable)', () => {
    expect(legacyStablePlan(svc(), now, 30)).toEqual({ action: 'mark' });
    expect(legacyStablePlan(svc('yesterday'), now, 30)).toEqual({ action: 'mark' });
  });

  it('is kept for scaleDownDelaySeconds from the mark, then deleted', () => {
    expect(legacyStablePlan(svc('2026-12-06T08:59:50.000Z'), now, 30)).toEqual({
      action: 'wait',
      waitMs: 20_000,
    });
    expect(legacyStablePlan(svc('2026-12-06T08:59:30.000Z'), now, 30)).toEqual({ action: 'delete' });
    expect(legacyStablePlan(svc('2026-12-06T09:00:00.000Z'), now, 0)).toEqual({ action: 'delete' });
  });
});
