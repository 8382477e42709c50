// Where the API server is and how to authenticate to it, for the operator process (and the
// router's EndpointSlice resolver, router/resolve-kubernetes.ts). The common
// cases are read here: the in-cluster ServiceAccount (token file re-read every minute, as bound
// tokens rotate; the CA file), and a kubeconfig whose user has client certificates, a token or a
// token file, or a username/password, with CA data or file, insecure-skip-tls-verify and
// tls-server-name. Anything else — exec credential plugins, auth-provider, KUBECONFIG naming
// several files to merge — goes to @kubernetes/client-node's KubeConfig, imported only then.
//
// Why not KubeConfig always: importing it loads the whole generated client-node API (its
// config.js imports gen/index.js), which costs the operator about 80 MiB of RSS (a Node
// process: 41 MiB; after `import('@kubernetes/client-node')`: 121 MiB) for two methods. Its
// shape (`getCurrentCluster`, `applyToHTTPSOptions`) is what KubeClient takes, so either serves.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { RequestOptions } from 'node:https';
import { parse } from 'yaml';

/** What KubeClient needs of a kubeconfig (client-node's KubeConfig has this shape too). */
export interface ClusterCredentials {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN_REREAD_MS = 60_000;

interface Settings {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure?: boolean;
  servername?: string;
  /** the Authorization header's value, when the user has one */
  authorization?: () => string | undefined;
}

/** A token file, read again once a minute (projected ServiceAccount tokens rotate). */
function tokenFile(path: string, now: () => number = Date.now): () => string {
  let cached: { token: string; at: number } | undefined;
  return () => {
    if (!cached || now() - cached.at >= TOKEN_REREAD_MS)
      cached = { token: readFileSync(path, 'utf8').trim(), at: now() };
    return cached.token;
  };
}

class Credentials implements ClusterCredentials {
  constructor(private readonly s: Settings) {}

  getCurrentCluster(): { server: string } {
    return { server: this.s.server };
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    if (this.s.ca) opts.ca = this.s.ca;
    if (this.s.cert) opts.cert = this.s.cert;
    if (this.s.key) opts.key = this.s.key;
    if (this.s.insecure) opts.rejectUnauthorized = false;
    if (this.s.servername) opts.servername = this.s.servername;
    const authorization = this.s.authorization?.();
    if (authorization) opts.headers = { ...opts.headers, authorization };
  }
}

/** The pod's ServiceAccount, as client-go's rest.InClusterConfig reads it. */
export function inClusterCredentials(
  env: NodeJS.ProcessEnv = process.env,
  dir: string = SERVICE_ACCOUNT_DIR,
): ClusterCredentials {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new Error('not in a cluster: KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT unset');
  const token = join(dir, 'token');
  if (!existsSync(token)) throw new Error(`not in a cluster: no ServiceAccount token at ${token}`);
  const read = tokenFile(token);
  return new Credentials({
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readFileSync(join(dir, 'ca.crt')),
    authorization: () => `Bearer ${read()}`,
  });
}

type Named<T> = { name: string } & Record<string, T | undefined>;
interface Kubeconfig {
  'current-context'?: string;
  contexts?: Named<{ cluster?: string; user?: string }>[];
  clusters?: Named<Record<string, unknown>>[];
  users?: Named<Record<string, unknown>>[];
}

/** Credentials from one kubeconfig file, or undefined when it needs what only client-node does. */
export function kubeconfigCredentials(path: string): ClusterCredentials | undefined {
  const doc = (parse(readFileSync(path, 'utf8')) ?? {}) as Kubeconfig;
  const where = `kubeconfig ${path}`;
  const ctxName = doc['current-context'];
  if (!ctxName) throw new Error(`${where}: no current-context`);
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`${where}: no context named ${ctxName}`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== 'string')
    throw new Error(`${where}: context ${ctxName} names no cluster with a server`);
  const user = (doc.users?.find((u) => u.name === ctx.user)?.user ?? {}) as Record<string, unknown>;
  if (user.exec || user['auth-provider']) return undefined;
  const rel = (p: unknown) => (isAbsolute(String(p)) ? String(p) : join(dirname(path), String(p)));
  const data = (inline: unknown, file: unknown): Buffer | undefined =>
    typeof inline === 'string'
      ? Buffer.from(inline, 'base64')
      : typeof file === 'string'
        ? readFileSync(rel(file))
        : undefined;
  const token = typeof user.token === 'string' ? user.token : undefined;
  const readToken = typeof user.tokenFile === 'string' ? tokenFile(rel(user.tokenFile)) : undefined;
  const basic =
    typeof user.username === 'string'
      ? `Basic ${Buffer.from(`${user.username}:${String(user.password ?? '')}`).toString('base64')}`
      : undefined;
  return new Credentials({
    server: cluster.server,
    ca: data(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: data(user['client-certificate-data'], user['client-certificate']),
    key: data(user['client-key-data'], user['client-key']),
    insecure: cluster['insecure-skip-tls-verify'] === true,
    ...(typeof cluster['tls-server-name'] === 'string' ? { servername: cluster['tls-server-name'] } : {}),
    authorization: () => (token ? `Bearer ${token}` : readToken ? `Bearer ${readToken()}` : basic),
  });
}

/** client-node's KubeConfig, loaded the way it loads (the fallback: it costs ~80 MiB of RSS). */
async function clientNodeCredentials(path: string | undefined): Promise<ClusterCredentials> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

/**
 * The operator's credentials: `path` when given; else as kubectl and client-go look: the
 * KUBECONFIG file, ~/.kube/config, then the in-cluster ServiceAccount.
 */
export async function loadClusterCredentials(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ClusterCredentials> {
  // the operator's config takes $KUBECONFIG as its --kubeconfig: several files to merge are
  // client-node's business (it reads them from $KUBECONFIG)
  let file = path || env.KUBECONFIG || undefined;
  if (file?.includes(delimiter)) return clientNodeCredentials(undefined);
  if (!file && existsSync(join(homedir(), '.kube', 'config'))) file = join(homedir(), '.kube', 'config');
  if (!file) return inClusterCredentials(env);
  return kubeconfigCredentials(file) ?? clientNodeCredentials(file);
}
