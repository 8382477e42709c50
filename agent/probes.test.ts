import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeSettings, resolvePort, runProbe, unsupportedProbe } from './probes.js';

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.statusCode = req.url === '/ok' ? 200 : req.url === '/moved' ? 302 : 503;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const container = { name: 'c' };

describe('runProbe', () => {
  it('passes on 2xx/3xx, fails on other codes and on a closed port', async () => {
    const c = { ...container, ports: [{ name: 'http', containerPort: port }] };
    expect(await runProbe({ httpGet: { path: '/ok', port: 'http' } }, c, '127.0.0.1')).toBe(true);
    expect(await runProbe({ httpGet: { path: '/moved', port } }, c, '127.0.0.1')).toBe(true);
    expect(await runProbe({ httpGet: { path: '/other', port } }, c, '127.0.0.1')).toBe(false);
    expect(await runProbe({ tcpSocket: { port } }, c, '127.0.0.1')).toBe(true);
    // a port nobody listens on any more: refused
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', () => r()));
    const closed = (gone.address() as { port: number }).port;
    await new Promise<void>((r) => gone.close(() => r()));
    expect(await runProbe({ httpGet: { path: '/ok', port: closed } }, c, '127.0.0.1')).toBe(false);
    expect(await runProbe({ tcpSocket: { port: closed } }, c, '127.0.0.1')).toBe(false);
  });
});

describe('probe settings', () => {
  it('fills in the kubelet defaults', () => {
    expect(probeSettings({})).toEqual({
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });

  it('resolves named ports and names what it cannot run', () => {
    expect(resolvePort('http', { name: 'c', ports: [{ name: 'http', containerPort: 8080 }] })).toBe(8080);
    expect(resolvePort('8081', { name: 'c' })).toBe(8081);
    expect(() => resolvePort('grpc', { name: 'c' })).toThrow(/probe port "grpc" names none of its ports/);
    expect(unsupportedProbe({ exec: { command: ['true'] } })).toBe('exec probes');
    expect(unsupportedProbe({ httpGet: { port: 1, scheme: 'HTTPS' } })).toBe('HTTPS probes');
    expect(unsupportedProbe({ httpGet: { port: 1 } })).toBeUndefined();
  });
});
