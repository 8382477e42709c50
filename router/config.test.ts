import { describe, expect, it } from 'vitest';
import { parseRouterConfig } from './config.js';

describe('parseRouterConfig', () => {
  it('defaults, variables the operator sets, and flags that win', () => {
    expect(parseRouterConfig([], {})).toMatchObject({
      table: '/etc/lightrank/router/table.json',
      port: 8080,
      resolver: 'dns',
      host: undefined,
    });
    const c = parseRouterConfig(['--port', '9000'], {
      LIGHTRANK_PORT: '8080',
      LIGHTRANK_ROUTER_RESOLVER: 'kubernetes',
      LIGHTRANK_HOST: '127.250.0.9',
      LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP: '10.250.0.0/16=127.250.0.0/16',
    })!;
    expect(c).toMatchObject({ port: 9000, resolver: 'kubernetes', host: '127.250.0.9' });
    expect(c.endpointAddressMap!('10.250.3.4')).toBe('127.250.3.4');
  });

  it('refuses bad values naming the flag and the variable', () => {
    expect(() => parseRouterConfig(['--resolver', 'consul'], {})).toThrow(
      /--resolver \/ LIGHTRANK_ROUTER_RESOLVER \("consul"\)/,
    );
    expect(() => parseRouterConfig([], { LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP: '10.0.0.0/8' })).toThrow(
      /--endpoint-address-map \/ LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP.*FROM_CIDR=TO_CIDR/,
    );
    expect(parseRouterConfig(['--help'], {})).toBeUndefined();
  });
});
