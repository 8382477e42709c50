// Client-side endpoint resolution for the router on Kubernetes (LIGHTRANK_ROUTER_RESOLVER=kubernetes), as
// Envoy's EDS and Linkerd do: for each backend named like a Service (`<svc>.<ns>.svc[.<cluster domain>]`)
// the router watches that Service's EndpointSlices (discovery.k8s.io/v1) and sends each request straight to
// a ready endpoint, round-robin. It needs no cluster DNS or kube-proxy, and with pooled keep-alive
// connections per endpoint it spreads load evenly where kube-proxy balances per connection only.
// Names that are not Service names, and Services whose slices were not listed yet, are left to DNS; so are
// Services the router may not read (401/403: an error log names the missing RBAC; retried with a backoff
// that reaches 30 s), so a cluster that has DNS and kube-proxy keeps working while its RBAC is being fixed.
// A known Service without a ready endpoint is an error (NoReadyEndpointsError → 502), as kube-proxy would
// refuse the connection. RBAC: the router's ServiceAccount needs get/list/watch on
// discovery.k8s.io endpointslices in the Services' namespaces.
//
// The Service port in the URL is matched to an EndpointSlice port: a slice with one port uses it (the
// operator's canary Services have one); with several, the port whose number equals the URL's, else the
// port named `http` (a slice lists target ports: the operator's segment Services map port 80 to the
// pods' `http` port, and carry a `grpc` one beside it).
//
// API:
//   parseServiceHost(host) → { namespace, service } | undefined
//   endpointTargets(slices, servicePort, mapAddress?) → Target[]      (pure: ready endpoints → host:port)
//   parseAddressMap("10.250.0.0/16=127.250.0.0/16") → (ip) => ip      (see LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP)
//   loadRouterCredentials(path?) → Promise<ClusterCredentials>       (a kubeconfig file, else in-cluster)
//   new KubernetesResolver({ kubeConfig, logger, mapAddress? }): track(table), resolve(host, port), problem(),
//     close()                                                         (problem() !== '': /readyz answers 503)
// Only the type of an EndpointSlice comes from client-node: loading client-node (its generated API) would
// cost the router ~75 MiB of RSS, more than the rest of it (bench/results-operator.md). The watch runs on
// the operator's own Kubernetes runtime (operator/runtime/kube/: client, informer, kubeconfig reader).
import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { Logger } from '../lib/logger.js';
import { ApiError, KubeClient } from '../operator/runtime/kube/client.js';
import { Informer } from '../operator/runtime/kube/informer.js';
import {
  inClusterCredentials,
  loadClusterCredentials,
  type ClusterCredentials,
} from '../operator/runtime/kube/kubeconfig.js';
import type { KubeObject, ResourceRef } from '../operator/runtime/kube/types.js';
import type { RouterTable } from './table.js';

export interface Target {
  host: string;
  port: number;
}

export class NoReadyEndpointsError extends Error {
  override readonly name = 'NoReadyEndpointsError';
}

/** The longest wait between list attempts (a refused list is retried at this pace once backed off). */
const FORBIDDEN_RETRY_MS = 30_000;

const ENDPOINTSLICES: ResourceRef = {
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  kind: 'EndpointSlice',
};

type EndpointSlice = KubeObject & Omit<V1EndpointSlice, 'metadata'>;

const SERVICE_HOST =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.[a-z0-9.-]+)?\.?$/;

/** The Service a backend host names (`svc.ns.svc`, `svc.ns.svc.cluster.local`), or undefined. */
export function parseServiceHost(host: string): { namespace: string; service: string } | undefined {
  const m = SERVICE_HOST.exec(host.toLowerCase());
  return m ? { service: m[1]!, namespace: m[3]! } : undefined;
}

/**
 * The addresses to dial for `servicePort` of a Service with these EndpointSlices: every ready endpoint
 * (`conditions.ready` unset counts as ready, as the API says) of IPv4/IPv6 slices, deduplicated.
 */
export function endpointTargets(
  slices: readonly V1EndpointSlice[],
  servicePort: number,
  mapAddress: (ip: string) => string = (ip) => ip,
): Target[] {
  const seen = new Set<string>();
  const out: Target[] = [];
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const ports = (slice.ports ?? []).filter(
      (p) => typeof p.port === 'number' && (p.protocol ?? 'TCP') === 'TCP',
    );
    const port =
      ports.length === 1
        ? ports[0]!.port!
        : (ports.find((p) => p.port === servicePort) ?? ports.find((p) => p.name === 'http'))?.port;
    if (port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const address of ep.addresses.slice(0, 1)) {
        const host = mapAddress(address);
        const key = `${host}:${port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ host, port });
      }
    }
  }
  return out.sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
}

function ipv4Octets(cidr: string, what: string): { octets: string[]; bits: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(8|16|24)$/.exec(cidr.trim());
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255))
    throw new Error(
      `endpoint address map: ${what} "${cidr}" is not an IPv4 CIDR with a /8, /16 or /24 prefix`,
    );
  const bits = Number(m[5]);
  return { octets: m.slice(1, 1 + bits / 8), bits };
}

/**
 * A rewrite of endpoint addresses `FROM_CIDR=TO_CIDR` (same prefix length, /8, /16 or /24): addresses in
 * FROM get TO's prefix, others stay. For a machine where pod IPs are reached at other local addresses (the
 * local node agent: pod IP 10.250.x.y listens on 127.250.x.y); a real cluster leaves it unset.
 */
export function parseAddressMap(spec: string): (ip: string) => string {
  const [from, to, ...rest] = spec.split('=');
  if (from === undefined || to === undefined || rest.length)
    throw new Error(
      `endpoint address map "${spec}": want FROM_CIDR=TO_CIDR, e.g. 10.250.0.0/16=127.250.0.0/16`,
    );
  const a = ipv4Octets(from, 'FROM');
  const b = ipv4Octets(to, 'TO');
  if (a.bits !== b.bits)
    throw new Error(`endpoint address map "${spec}": FROM and TO must have the same prefix length`);
  const prefix = `${a.octets.join('.')}.`;
  const replacement = `${b.octets.join('.')}.`;
  return (ip) => (ip.startsWith(prefix) ? replacement + ip.slice(prefix.length) : ip);
}

/**
 * A kubeconfig file when one is named (read by the operator's kubeconfig reader; exec and
 * auth-provider users go to client-node's KubeConfig, loaded only then; a file that cannot be read
 * fails here), else the in-cluster credentials of the pod's ServiceAccount. Without those (no
 * KUBERNETES_SERVICE_HOST, no token) the router still starts: every list fails with the reason,
 * which /readyz (503) and the watch's log show, and DNS serves the Services meanwhile.
 */
export async function loadRouterCredentials(path?: string): Promise<ClusterCredentials> {
  if (path) return loadClusterCredentials(path);
  try {
    return inClusterCredentials();
  } catch (err) {
    const reason = `no API credentials: ${err instanceof Error ? err.message : String(err)}`;
    return {
      getCurrentCluster: () => ({ server: 'https://kubernetes.invalid' }),
      applyToHTTPSOptions: () => Promise.reject(new Error(reason)),
    };
  }
}

export interface KubernetesResolverOptions {
  /** where the API server is and how to authenticate (client-node's KubeConfig has this shape too) */
  kubeConfig: ClusterCredentials;
  logger: Logger;
  mapAddress?: (ip: string) => string;
  /** first wait before re-listing after a watch error, doubled per failure up to 30 s (default 1 s) */
  restartDelayMs?: number;
}

interface Watched {
  informer: Informer<EndpointSlice>;
  /** listed at least once: from then on its (possibly stale) slices are used, never DNS */
  synced: boolean;
  /** by slice name */
  slices: Map<string, V1EndpointSlice>;
  next: number;
  /** the last watch or list error, until the first successful list */
  lastError?: string;
  /** the API refused the list (401/403): DNS serves the Service, readiness does not wait for it */
  forbidden: boolean;
  /** endpointTargets per Service port, until the slices change */
  targets: Map<number, Target[]>;
}

export class KubernetesResolver {
  private readonly watched = new Map<string, Watched>();
  private readonly client: KubeClient;

  constructor(private readonly opts: KubernetesResolverOptions) {
    this.client = new KubeClient(opts.kubeConfig, { userAgent: 'lightrank-router' });
  }

  /** Watches the Services the table's backends name and stops watching those it no longer names. */
  track(table: RouterTable): void {
    const wanted = new Set<string>();
    for (const m of table.models.values())
      for (const s of m.segments.values())
        for (const b of s.backends) {
          const svc = parseServiceHost(b.host);
          if (svc) wanted.add(`${svc.namespace}/${svc.service}`);
        }
    for (const key of wanted) if (!this.watched.has(key)) this.watch(key);
    for (const [key, w] of this.watched) if (!wanted.has(key)) this.unwatch(key, w);
  }

  /**
   * Where to send a request for `host:port`: a ready endpoint (round-robin), or undefined to dial the name
   * itself (not a Service name, or its slices not listed yet). Throws NoReadyEndpointsError for a listed
   * Service with no ready endpoint on that port.
   */
  resolve(host: string, port: number): Target | undefined {
    const svc = parseServiceHost(host);
    const w = svc && this.watched.get(`${svc.namespace}/${svc.service}`);
    if (!w || !w.synced) return undefined;
    let targets = w.targets.get(port);
    if (!targets) {
      targets = endpointTargets([...w.slices.values()], port, this.opts.mapAddress);
      w.targets.set(port, targets);
    }
    if (targets.length === 0)
      throw new NoReadyEndpointsError(
        `Service ${svc!.namespace}/${svc!.service} has no ready endpoint for port ${port} (EndpointSlices: ${w.slices.size})`,
      );
    w.next = (w.next + 1) % targets.length;
    return targets[w.next]!;
  }

  /**
   * Why the resolver is not ready: the Services whose EndpointSlices were never listed (e.g. RBAC
   * missing), with the last error; '' once every tracked Service was listed. For /readyz.
   */
  problem(): string {
    const pending = [...this.watched].filter(([, w]) => !w.synced && !w.forbidden);
    return pending
      .map(
        ([key, w]) =>
          `EndpointSlices of Service ${key} not listed yet${w.lastError ? `: ${w.lastError}` : ''}`,
      )
      .join('; ');
  }

  close(): void {
    for (const [key, w] of this.watched) this.unwatch(key, w);
    this.client.close();
  }

  private watch(key: string): void {
    const [namespace, service] = key.split('/') as [string, string];
    const informer = new Informer<EndpointSlice>(this.client, {
      ref: ENDPOINTSLICES,
      namespace,
      labelSelector: `kubernetes.io/service-name=${service}`,
      backoff: { baseMs: this.opts.restartDelayMs ?? 1_000, maxMs: FORBIDDEN_RETRY_MS },
      logger: this.opts.logger,
      onError: (err) => {
        w.lastError = err instanceof Error ? err.message : String(err);
        const refused = err instanceof ApiError && (err.status === 401 || err.status === 403);
        if (refused && !w.forbidden)
          this.opts.logger.error(
            { service: key, err: w.lastError },
            `the router may not list EndpointSlices in ${namespace}: using DNS for ${service}; grant its ServiceAccount get/list/watch on discovery.k8s.io endpointslices`,
          );
        w.forbidden = refused;
      },
    });
    const w: Watched = {
      informer,
      synced: false,
      slices: new Map(),
      next: 0,
      targets: new Map(),
      forbidden: false,
    };
    informer.on((event, slice) => {
      if (event === 'delete') w.slices.delete(slice.metadata.name);
      else w.slices.set(slice.metadata.name, slice as V1EndpointSlice);
      w.targets.clear();
    });
    this.watched.set(key, w);
    informer.start();
    void informer.waitForSync().then(() => {
      if (!informer.hasSynced) return; // stopped before its first list
      w.synced = true;
      w.forbidden = false;
      delete w.lastError;
      this.opts.logger.info({ service: key, slices: w.slices.size }, 'watching endpoints');
    });
  }

  private unwatch(key: string, w: Watched): void {
    void w.informer.stop();
    this.watched.delete(key);
  }
}
