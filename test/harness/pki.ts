// The control plane's keys and certificates, made fresh for every run: one CA (serving and
// client), the API server's serving certificate for loopback and the in-cluster names, one
// client certificate per identity, the service-account signing key pair, and the aggregation
// layer's front proxy (its own CA and the client certificate the API server proxies to extension
// API servers with, as kubeadm makes them), plus `makeServingCert` for such a server. Keys come from
// node:crypto (ECDSA P-256); certificates are signed with the openssl command-line tool.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertPair {
  cert: string;
  key: string;
}

export interface ClientIdentity {
  /** file name stem and map key */
  id: string;
  /** becomes the user name */
  commonName: string;
  /** become the groups */
  organizations: string[];
}

export interface Pki {
  ca: CertPair;
  server: CertPair;
  clients: Record<string, CertPair>;
  serviceAccount: { privateKey: string; publicKey: string };
  /** the aggregation layer: the CA extension API servers trust for proxied requests, and the
   * API server's client certificate (CN front-proxy-client) */
  frontProxy: { ca: CertPair; client: CertPair };
}

/** The common name of the front proxy's client certificate (--requestheader-allowed-names). */
export const FRONT_PROXY_CLIENT = 'front-proxy-client';

/** Writes all key material into `dir` and returns the file paths. */
export async function createPki(
  dir: string,
  opts: { serverNames: string[]; serverIps: string[]; clients: ClientIdentity[] },
): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const ca = await makeCa(dir, 'ca', 'lightrank-harness-ca');
  const frontProxyCa = await makeCa(dir, 'front-proxy-ca', 'lightrank-harness-front-proxy-ca');
  const frontProxyClient = await makeLeaf(dir, frontProxyCa, 'front-proxy-client', {
    subject: `/CN=${FRONT_PROXY_CLIENT}`,
    extensions: ['keyUsage = critical, digitalSignature, keyEncipherment', 'extendedKeyUsage = clientAuth'],
  });
  const server = await makeLeaf(dir, ca, 'apiserver', {
    subject: '/CN=kube-apiserver',
    extensions: [
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      `subjectAltName = ${[...opts.serverNames.map((n) => `DNS:${n}`), ...opts.serverIps.map((ip) => `IP:${ip}`)].join(', ')}`,
    ],
  });
  const clientPairs = await Promise.all(
    opts.clients.map((c) =>
      makeLeaf(dir, ca, `client-${c.id}`, {
        subject: [...c.organizations.map((o) => `/O=${o}`), `/CN=${c.commonName}`].join(''),
        extensions: [
          'keyUsage = critical, digitalSignature, keyEncipherment',
          'extendedKeyUsage = clientAuth',
        ],
      }),
    ),
  );
  const clients = Object.fromEntries(opts.clients.map((c, i) => [c.id, clientPairs[i]!]));

  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serviceAccount = { privateKey: join(dir, 'sa.key'), publicKey: join(dir, 'sa.pub') };
  writeFileSync(serviceAccount.privateKey, sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  writeFileSync(serviceAccount.publicKey, sa.publicKey.export({ type: 'spki', format: 'pem' }));
  return { ca, server, clients, serviceAccount, frontProxy: { ca: frontProxyCa, client: frontProxyClient } };
}

/** A serving certificate for a server on this machine (an extension API server), signed by `ca`. */
export function makeServingCert(dir: string, ca: CertPair, stem: string, names: string[]): Promise<CertPair> {
  return makeLeaf(dir, ca, stem, {
    subject: `/CN=${stem}`,
    extensions: [
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      `subjectAltName = ${names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(', ')}`,
    ],
  });
}

function writeKey(path: string): void {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
}

// A self-contained openssl config so the system's openssl.cnf cannot add or clash with extensions.
function writeConfig(path: string, extensions: string[]): void {
  writeFileSync(path, ['[req]', 'distinguished_name = dn', '[dn]', '[ext]', ...extensions, ''].join('\n'));
}

async function openssl(args: string[], what: string): Promise<void> {
  try {
    await run('openssl', args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error('the control plane harness needs the `openssl` command; install it');
    throw new Error(`openssl failed while making ${what}: ${e.stderr ?? e.message}`);
  }
}

async function makeCa(dir: string, stem: string, commonName: string): Promise<CertPair> {
  const pair = { cert: join(dir, `${stem}.crt`), key: join(dir, `${stem}.key`) };
  const cnf = join(dir, `${stem}.cnf`);
  writeKey(pair.key);
  writeConfig(cnf, [
    'basicConstraints = critical, CA:TRUE',
    'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
    'subjectKeyIdentifier = hash',
  ]);
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-config',
      cnf,
      '-extensions',
      'ext',
      '-key',
      pair.key,
      '-subj',
      `/CN=${commonName}`,
    ].concat(['-days', '3650', '-sha256', '-out', pair.cert]),
    'the CA',
  );
  return pair;
}

async function makeLeaf(
  dir: string,
  ca: CertPair,
  stem: string,
  opts: { subject: string; extensions: string[] },
): Promise<CertPair> {
  const pair = { cert: join(dir, `${stem}.crt`), key: join(dir, `${stem}.key`) };
  const csr = join(dir, `${stem}.csr`);
  const cnf = join(dir, `${stem}.cnf`);
  writeKey(pair.key);
  writeConfig(cnf, [
    'basicConstraints = critical, CA:FALSE',
    'authorityKeyIdentifier = keyid',
    ...opts.extensions,
  ]);
  await openssl(['req', '-new', '-config', cnf, '-key', pair.key, '-subj', opts.subject, '-out', csr], stem);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      `0x${randomBytes(12).toString('hex')}`,
    ].concat(['-days', '3650', '-sha256', '-extfile', cnf, '-extensions', 'ext', '-out', pair.cert]),
    stem,
  );
  return pair;
}
