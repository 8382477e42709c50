import type { V1EndpointSlice } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import {
  KubernetesResolver,
  endpointTargets,
  loadRouterCredentials,
  parseAddressMap,
  parseServiceHost,
} from './resolve-kubernetes.js';
import { parseTable } from './table.js';

function slice(
  endpoints: { ip: string; ready?: boolean }[],
  ports: { name?: string; port: number; protocol?: string }[] = [{ name: 'http', port: 8080 }],
  addressType = 'IPv4',
): V1EndpointSlice {
  return {
    addressType,
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
    })),
    ports,
  };
}

describe('parseServiceHost', () => {
  it('reads <svc>.<ns>.svc with or without a cluster domain', () => {
    expect(parseServiceHost('ads-standard-stable.prod.svc')).toEqual({
      service: 'ads-standard-stable',
      namespace: 'prod',
    });
    expect(parseServiceHost('a.b.svc.cluster.local')).toEqual({ service: 'a', namespace: 'b' });
    expect(parseServiceHost('a.b.svc.cluster.local.')).toEqual({ service: 'a', namespace: 'b' });
  });

  it('leaves other names to DNS', () => {
    for (const host of ['127.0.0.1', 'localhost', 'a.b.example.com', 'a.svc', 'svc', '-a.b.svc'])
      expect(parseServiceHost(host), host).toBeUndefined();
  });
});

describe('endpointTargets', () => {
  it('lists ready endpoints (ready unset counts as ready) across slices, sorted and deduplicated', () => {
    const targets = endpointTargets(
      [
        slice([{ ip: '10.0.0.2' }, { ip: '10.0.0.1', ready: true }, { ip: '10.0.0.9', ready: false }]),
        slice([
          { ip: '10.0.0.3', ready: true },
          { ip: '10.0.0.1', ready: true },
        ]),
      ],
      8080,
    );
    expect(targets).toEqual([
      { host: '10.0.0.1', port: 8080 },
      { host: '10.0.0.2', port: 8080 },
      { host: '10.0.0.3', port: 8080 },
    ]);
  });

  it("uses a single-port slice's target port whatever the Service port", () => {
    expect(endpointTargets([slice([{ ip: '10.0.0.1' }], [{ port: 9000 }])], 80)).toEqual([
      { host: '10.0.0.1', port: 9000 },
    ]);
  });

  it('with several ports, takes the one equal to the Service port, else the one named http, else none', () => {
    const s = slice(
      [{ ip: '10.0.0.1' }],
      [
        { name: 'http', port: 8080 },
        { name: 'metrics', port: 9090 },
      ],
    );
    expect(endpointTargets([s], 9090)).toEqual([{ host: '10.0.0.1', port: 9090 }]);
    // a segment Service: port 80 → the pods' `http` port (the slice lists 8080 and grpc 8001)
    expect(endpointTargets([s], 80)).toEqual([{ host: '10.0.0.1', port: 8080 }]);
    const noHttp = slice(
      [{ ip: '10.0.0.1' }],
      [
        { name: 'grpc', port: 8001 },
        { name: 'metrics', port: 9090 },
      ],
    );
    expect(endpointTargets([noHttp], 7000)).toEqual([]);
  });

  it('skips FQDN slices and UDP ports', () => {
    expect(endpointTargets([slice([{ ip: 'example.com' }], undefined, 'FQDN')], 8080)).toEqual([]);
    expect(endpointTargets([slice([{ ip: '10.0.0.1' }], [{ port: 53, protocol: 'UDP' }])], 53)).toEqual([]);
  });

  it('maps addresses through the address map', () => {
    const map = parseAddressMap('10.250.0.0/16=127.250.0.0/16');
    expect(endpointTargets([slice([{ ip: '10.250.3.7' }, { ip: '10.1.2.3' }])], 8080, map)).toEqual([
      { host: '10.1.2.3', port: 8080 },
      { host: '127.250.3.7', port: 8080 },
    ]);
  });
});

describe('parseAddressMap', () => {
  it('rewrites the prefix of addresses inside FROM only', () => {
    const map = parseAddressMap('10.250.0.0/16=127.250.0.0/16');
    expect(map('10.250.0.2')).toBe('127.250.0.2');
    expect(map('10.25.0.2')).toBe('10.25.0.2');
    expect(map('10.2500.0.2')).toBe('10.2500.0.2');
    expect(parseAddressMap('10.0.0.0/8=127.0.0.0/8')('10.1.2.3')).toBe('127.1.2.3');
  });

  it('refuses malformed maps naming what is wrong', () => {
    expect(() => parseAddressMap('10.250.0.0/16')).toThrow(/FROM_CIDR=TO_CIDR/);
    expect(() => parseAddressMap('10.250.0.0/16=127.0.0.0/8')).toThrow(/same prefix length/);
    expect(() => parseAddressMap('10.250.0.0/12=127.250.0.0/12')).toThrow(/FROM "10.250.0.0\/12"/);
    expect(() => parseAddressMap('10.250.0.0/16=300.0.0.0/16')).toThrow(/TO/);
  });
});

describe('loadRouterCredentials', () => {
  it('without in-cluster credentials, starts a resolver that stays unready naming why and leaves names to DNS', async () => {
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    const kubeConfig = await loadRouterCredentials().finally(() => {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    });
    const resolver = new KubernetesResolver({
      kubeConfig,
      logger: createLogger('router-test', { level: 'silent' }),
      restartDelayMs: 10,
    });
    const host = 'backend.ns.svc';
    resolver.track(
      parseTable(
        JSON.stringify({
          version: 1,
          models: {
            demo: {
              defaultSegment: 's',
              segments: { s: { backends: [{ track: 'stable', url: `http://${host}:8080`, weight: 100 }] } },
            },
          },
        }),
      ),
    );
    try {
      await expect
        .poll(() => resolver.problem(), { timeout: 5_000, interval: 10 })
        .toMatch(
          /^EndpointSlices of Service ns\/backend not listed yet: no API credentials: not in a cluster: KUBERNETES_SERVICE_HOST/,
        );
      expect(resolver.resolve(host, 8080)).toBeUndefined();
    } finally {
      resolver.close();
    }
  });

  it('refuses a kubeconfig file it cannot read, naming it', async () => {
    await expect(loadRouterCredentials('/nonexistent/kubeconfig')).rejects.toThrow(
      /\/nonexistent\/kubeconfig/,
    );
  });
});
