import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AddressPool, localAddressOf } from './addresses.js';

describe('localAddressOf', () => {
  it('replaces the first octet with 127', () => {
    expect(localAddressOf('10.250.3.7')).toBe('127.250.3.7');
    expect(() => localAddressOf('10.250.3')).toThrow(/not an IPv4 address/);
  });
});

describe('AddressPool', () => {
  it('refuses a loopback pod network', () => {
    expect(() => new AddressPool('127.1')).toThrow(/not loopback/);
  });

  it('hands out distinct addresses, skipping ones whose ports are taken', async () => {
    const pool = new AddressPool('10.251');
    const a = await pool.allocate([]);
    const b = await pool.allocate([]);
    expect(a.podIp).toMatch(/^10\.251\.\d+\.\d+$/);
    expect(b.podIp).not.toBe(a.podIp);
    expect(a.localAddress).toBe(localAddressOf(a.podIp));

    // 10.251.0.2 comes first from index 0, unless its loopback side has a listener on a pod port
    expect((await new AddressPool('10.251', 0).allocate([])).podIp).toBe('10.251.0.2');
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.251.0.2', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      expect((await new AddressPool('10.251', 0).allocate([port])).podIp).toBe('10.251.0.3');
    } finally {
      blocker.close();
    }
  });
});
