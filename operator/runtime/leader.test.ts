import { describe, expect, it } from 'vitest';
import { decideLeaseAction, microTime, validateLeaderElection, type Lease } from './leader.js';

const lease = (holder: string | null, durationS = 15): Lease => ({
  metadata: { name: 'l', namespace: 'n', resourceVersion: '1' },
  spec: { holderIdentity: holder, leaseDurationSeconds: durationS },
});

describe('decideLeaseAction', () => {
  const D = 15_000;
  it('creates a missing lease', () => {
    expect(decideLeaseAction(undefined, 'me', 0, 0, D)).toBe('create');
  });
  it('renews its own lease', () => {
    expect(decideLeaseAction(lease('me'), 'me', 0, 1e9, D)).toBe('renew');
  });
  it('takes a released lease at once', () => {
    expect(decideLeaseAction(lease(null), 'me', 1000, 1000, D)).toBe('acquire');
    expect(decideLeaseAction(lease(''), 'me', 1000, 1000, D)).toBe('acquire');
  });
  it('waits while another holder’s lease runs, measured from when the change was observed', () => {
    expect(decideLeaseAction(lease('other'), 'me', 10_000, 10_000 + D - 1, D)).toBe('wait');
    expect(decideLeaseAction(lease('other'), 'me', 10_000, 10_000 + D, D)).toBe('acquire');
  });
  it('honours a longer duration declared by the holder', () => {
    expect(decideLeaseAction(lease('other', 60), 'me', 0, 30_000, D)).toBe('wait');
    expect(decideLeaseAction(lease('other', 60), 'me', 0, 60_000, D)).toBe('acquire');
  });
});

describe('microTime', () => {
  it('writes RFC 3339 with six fractional digits', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });
});

describe('validateLeaderElection', () => {
  it('requires duration > renew deadline > retry period > 0', () => {
    expect(() =>
      validateLeaderElection({ leaseDurationMs: 15, renewDeadlineMs: 10, retryPeriodMs: 2 }),
    ).not.toThrow();
    expect(() =>
      validateLeaderElection({ leaseDurationMs: 10, renewDeadlineMs: 10, retryPeriodMs: 2 }),
    ).toThrow(/must exceed the renew deadline/);
    expect(() =>
      validateLeaderElection({ leaseDurationMs: 15, renewDeadlineMs: 2, retryPeriodMs: 2 }),
    ).toThrow(/must exceed the retry period/);
  });
});
