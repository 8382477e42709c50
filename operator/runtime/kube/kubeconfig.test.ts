// The operator's own kubeconfig reading, on real files: what it puts on a request for each kind
// of user, the in-cluster ServiceAccount (token re-read), and the cases it leaves to client-node.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { inClusterCredentials, kubeconfigCredentials, loadClusterCredentials } from './kubeconfig.js';

const dir = mkdtempSync(join(tmpdir(), 'lightrank-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(
  name: string,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
      clusters: [{ name: 'k', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
      users: [{ name: 'u', user }],
    }),
  );
  return path;
}
const applied = async (creds: { applyToHTTPSOptions(o: RequestOptions): Promise<void> }) => {
  const opts: RequestOptions = { headers: {} };
  await creds.applyToHTTPSOptions(opts);
  return opts;
};

describe('kubeconfigCredentials', () => {
  it('client certificates and CA, inline or as files relative to the kubeconfig', async () => {
    writeFileSync(join(dir, 'ca.pem'), 'CA FILE');
    const inline = kubeconfigCredentials(
      kubeconfig(
        'certs',
        { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
        {
          'certificate-authority-data': b64('CA'),
          'tls-server-name': 'kubernetes',
        },
      ),
    )!;
    expect(inline.getCurrentCluster()).toEqual({ server: 'https://127.0.0.1:6443' });
    const o = await applied(inline);
    expect([String(o.ca), String(o.cert), String(o.key), o.servername]).toEqual([
      'CA',
      'CERT',
      'KEY',
      'kubernetes',
    ]);
    expect(o.headers).toEqual({});
    const files = await applied(
      kubeconfigCredentials(kubeconfig('files', { token: 't0' }, { 'certificate-authority': 'ca.pem' }))!,
    );
    expect(String(files.ca)).toBe('CA FILE');
    expect(files.headers).toEqual({ authorization: 'Bearer t0' });
  });

  it('a token file, basic auth, insecure-skip-tls-verify', async () => {
    writeFileSync(join(dir, 'tok'), 'from-file\n');
    expect((await applied(kubeconfigCredentials(kubeconfig('tf', { tokenFile: 'tok' }))!)).headers).toEqual({
      authorization: 'Bearer from-file',
    });
    const basic = await applied(
      kubeconfigCredentials(
        kubeconfig('basic', { username: 'a', password: 'b' }, { 'insecure-skip-tls-verify': true }),
      )!,
    );
    expect(basic.headers).toEqual({ authorization: `Basic ${b64('a:b')}` });
    expect(basic.rejectUnauthorized).toBe(false);
  });

  it('names what is missing', () => {
    const path = join(dir, 'broken');
    writeFileSync(path, stringify({ 'current-context': 'x', contexts: [] }));
    expect(() => kubeconfigCredentials(path)).toThrow(/broken: no context named x/);
  });

  it('leaves exec plugins to client-node, loaded only then', async () => {
    const path = kubeconfig('exec', {
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' },
    });
    expect(kubeconfigCredentials(path)).toBeUndefined();
    const creds = await loadClusterCredentials(path, {});
    expect(creds.constructor.name).toBe('KubeConfig');
    expect(creds.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });
});

describe('inClusterCredentials', () => {
  it("the pod's ServiceAccount: server from the environment, CA, the token read again after a minute", async () => {
    const sa = join(dir, 'sa');
    rmSync(sa, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sa);
    writeFileSync(join(sa, 'ca.crt'), 'SA CA');
    writeFileSync(join(sa, 'token'), 'one');
    const creds = inClusterCredentials(
      { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      sa,
    );
    expect(creds.getCurrentCluster()).toEqual({ server: 'https://[fd00::1]:443' });
    const o = await applied(creds);
    expect(String(o.ca)).toBe('SA CA');
    expect(o.headers).toEqual({ authorization: 'Bearer one' });
    writeFileSync(join(sa, 'token'), 'two');
    // within the minute: the token read before
    expect((await applied(creds)).headers).toEqual({ authorization: 'Bearer one' });
    expect(() => inClusterCredentials({}, sa)).toThrow(/KUBERNETES_SERVICE_HOST/);
    expect(() =>
      inClusterCredentials({ KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '1' }, join(dir, 'none')),
    ).toThrow(/no ServiceAccount token/);
  });
});
