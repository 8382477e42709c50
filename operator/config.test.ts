import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_IMAGE, loadConfig, usage } from './config.js';

describe('loadConfig', () => {
  it('has defaults for everything', () => {
    const c = loadConfig([], {})!;
    expect(c).toMatchObject({
      watchNamespace: '',
      serverImage: DEFAULT_SERVER_IMAGE,
      sidecarImage: DEFAULT_SERVER_IMAGE,
      routerImage: undefined,
      port: 8080,
      workers: 16,
      resyncPeriodMs: 600_000,
    });
    expect(c.leaderElection).toMatchObject({
      enabled: true,
      leaseName: 'lightrank-operator',
      leaseNamespace: 'default',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    });
    expect(c.leaderElection.identity).toMatch(/-\d+-[0-9a-f]{6}$/);
  });

  it('reads the Helm chart’s environment, and flags win over it', () => {
    const env = {
      LIGHTRANK_WATCH_NAMESPACE: 'team',
      LIGHTRANK_SERVER_IMAGE: 'r/s:1',
      LIGHTRANK_ROUTER_IMAGE: 'r/router:2',
      LIGHTRANK_LEADER_ELECTION: 'false',
      POD_NAME: 'op-0',
      POD_NAMESPACE: 'sys',
      LIGHTRANK_PORT: '9090',
    };
    const c = loadConfig(['--port', '9191', '--lease-duration-seconds', '4'], env)!;
    expect(c).toMatchObject({
      watchNamespace: 'team',
      serverImage: 'r/s:1',
      sidecarImage: 'r/s:1',
      routerImage: 'r/router:2',
      port: 9191,
    });
    expect(c.leaderElection).toMatchObject({
      enabled: false,
      identity: 'op-0',
      leaseNamespace: 'sys',
      leaseDurationMs: 4000,
    });
  });

  it('refuses bad values naming the flag', () => {
    expect(() => loadConfig(['--workers', 'many'], {})).toThrow(/--workers \/ LIGHTRANK_WORKERS \("many"\)/);
    expect(() => loadConfig([], { LIGHTRANK_LEADER_ELECTION: 'maybe' })).toThrow(
      /--leader-election \/ LIGHTRANK_LEADER_ELECTION \("maybe"\): true or false/,
    );
    expect(() => loadConfig(['--image-pull-policy', 'Sometimes'], {})).toThrow(/--image-pull-policy/);
    expect(() => loadConfig(['--no-such-flag'], {})).toThrow(/no-such-flag/);
  });

  it('returns undefined for --help, and the usage lists the variables', () => {
    expect(loadConfig(['--help'], {})).toBeUndefined();
    expect(usage()).toContain('$LIGHTRANK_WATCH_NAMESPACE');
  });
});
