import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverVersions } from './server-versions.js';

// A real HTTP server on loopback answering with a scoring server's metric lines.
const METRICS = [
  '# HELP lightrank_server_snapshot_version_info The embedding snapshot version serving now (value 1)',
  'lightrank_server_snapshot_version_info{model="ads",segment="",track="",version="v7"} 1',
  'lightrank_server_snapshot_version_info{model="ads",segment="",track="",version="v6"} 0',
  'lightrank_server_model_version_info{model="ads",segment="",track="",version="m2"} 1',
  'lightrank_server_requests_total{version="x"} 1',
].join('\n');

describe('serverVersions', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end(METRICS));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('reads the versions the server serves (value 1)', async () => {
    const v = await serverVersions(url);
    expect([...v.snapshot]).toEqual(['v7']);
    expect([...v.model]).toEqual(['m2']);
  });

  it('protects nothing when the server cannot be asked', async () => {
    const v = await serverVersions('http://127.0.0.1:9/metrics');
    expect(v.snapshot.size + v.model.size).toBe(0);
    expect((await serverVersions(undefined)).snapshot.size).toBe(0);
  });
});
