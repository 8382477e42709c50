// Desired objects of the `router` traffic provider, as pure functions: the router table (the
// format router/table.ts parses, docs/internals.md "Router table"), the ConfigMap that carries it,
// and the router Deployment + Service (same image as the server, `node dist/router/main.js`, the
// table mounted from the ConfigMap), all owned by the RankingModel. The router pods run as the
// namespace's shared router identity (rbac.ts ROUTER_IDENTITY: read EndpointSlices, for the
// Kubernetes resolver), applied by identity.ts.
import type { RankingModel } from '../../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../../api/resolve.js';
import type { RouterTableFile } from '../../../router/table.js';
import {
  LABEL_MANAGED_BY,
  LABEL_MODEL,
  MANAGED_BY,
  SERVER_PORT,
  ownerReference,
  type BuildOptions,
  type Deployment,
  type Service,
} from '../../builders.js';
import type { KubeObject } from '../../runtime/kube/types.js';
import {
  CONTAINER_SECURITY_CONTEXT,
  POD_SECURITY_CONTEXT,
  TMP_MOUNT,
  TMP_VOLUME,
} from '../../pod-security.js';
import { ROUTER_IDENTITY } from '../../rbac.js';
import { backendUrl } from '../services.js';

export const ROUTER_COMMAND = ['node', 'dist/router/main.js'];
export const ROUTER_TABLE_DIR = '/etc/lightrank/router';
export const ROUTER_TABLE_KEY = 'table.json';
export const ROUTER_REPLICAS = 2;
/**
 * What a router container requests. Memory: a router process measured 68 MiB RSS idle and 80 MiB
 * after 3,000 requests 32 at a time (1-model table; 97 MiB with a 200-model table), Node 20.20,
 * bench/router-memory.ts (bench/results-operator.md, 2026-12-06 09:31 UTC); 96Mi leaves ~20% over
 * the loaded figure. Keep it in step with what the router loads: client-node alone added ~75 MiB.
 */
export const ROUTER_RESOURCES = { requests: { cpu: '100m', memory: '96Mi' } };
export const LABEL_COMPONENT = 'app.kubernetes.io/component';

/** ConfigMap, Deployment and Service of a model's router share this name. */
export function routerName(model: string): string {
  return `${model}-router`;
}

/**
 * The router table for a model: every segment, its stable backend (the segment's Service, which
 * selects the stable pods) and, while the segment has a canary Service (`canaryServices`) or its
 * canary carries weight, its canary backend, at their weights.
 */
export function buildRouterTable(
  model: RankingModel,
  segments: ResolvedSegment[],
  weights: ReadonlyMap<string, number>,
  canaryServices: ReadonlySet<string>,
): RouterTableFile {
  const ns = model.metadata.namespace ?? 'default';
  const name = model.metadata.name;
  type Entry = [string, { backends: { track: 'stable' | 'canary'; url: string; weight: number }[] }];
  const entries = segments.map((s): Entry => {
    const canary = weights.get(s.name) ?? 0;
    const withCanary = canary > 0 || canaryServices.has(s.name);
    return [
      s.name,
      {
        backends: [
          { track: 'stable', url: backendUrl(name, ns, s.name, 'stable'), weight: 100 - canary },
          ...(withCanary
            ? [{ track: 'canary' as const, url: backendUrl(name, ns, s.name, 'canary'), weight: canary }]
            : []),
        ],
      },
    ];
  });
  const headerName = segments[0]?.headerName;
  // the router matches the segment by name: header values other than the name need their own entries
  const aliases = segments.flatMap((s) =>
    s.headerValues
      .filter((v) => v !== s.name)
      .map((v): Entry => [v, entries.find(([n]) => n === s.name)![1]]),
  );
  const fallback = segments.find((s) => s.isDefault) ?? segments[0]!;
  return {
    version: 1,
    // the spec's segments only: what else the weights map holds does not reach the table
    revision: `${ns}/${name}@${segments
      .map((s): [string, number] => [s.name, weights.get(s.name) ?? 0])
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([s, w]) => `${s}=${w}`)
      .join(',')}`,
    models: {
      [name]: {
        ...(headerName ? { header: headerName } : {}),
        defaultSegment: fallback.name,
        segments: Object.fromEntries([...entries, ...aliases]),
      },
    },
  };
}

function labels(model: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'lightrank-router',
    'app.kubernetes.io/instance': model,
    [LABEL_COMPONENT]: 'router',
    'app.kubernetes.io/part-of': 'lightrank',
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_MODEL]: model,
  };
}

export const LABEL_ROUTER = 'lightrank.dev/router';

/** Router pods carry their own label, not the model's: `lightrank.dev/model=<m>` selects scoring pods. */
const selector = (model: string) => ({ [LABEL_ROUTER]: model });

function podLabels(model: string): Record<string, string> {
  const { [LABEL_MODEL]: _model, [LABEL_MANAGED_BY]: _by, ...rest } = labels(model);
  return { ...rest, ...selector(model) };
}

export function buildRouterConfigMap(model: RankingModel, table: RouterTableFile): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: routerMeta(model),
    data: { [ROUTER_TABLE_KEY]: `${JSON.stringify(table, null, 2)}\n` },
  };
}

export function buildRouterDeployment(
  model: RankingModel,
  image: string,
  opts: Pick<BuildOptions, 'imagePullPolicy'>,
): Deployment {
  const name = model.metadata.name;
  return routerDeployment(
    {
      metadata: routerMeta(model),
      selector: selector(name),
      podLabels: podLabels(name),
      configMap: routerName(name),
      table: `${ROUTER_TABLE_DIR}/${ROUTER_TABLE_KEY}`,
    },
    image,
    opts,
  );
}

/** What tells one router Deployment from another: its name and labels, its pods', its table. */
export interface RouterShape {
  metadata: Deployment['metadata'];
  selector: Record<string, string>;
  podLabels: Record<string, string>;
  /** The ConfigMap mounted at ROUTER_TABLE_DIR. */
  configMap: string;
  /** LIGHTRANK_ROUTER_TABLE: a file of the ConfigMap, or the directory of all its keys. */
  table: string;
  /** The container's requests (default ROUTER_RESOURCES). */
  resources?: { requests: { cpu: string; memory: string } };
}

/** A router Deployment (a model's own, or the namespace's shared one: traffic/router/shared.ts). */
export function routerDeployment(
  shape: RouterShape,
  image: string,
  opts: Pick<BuildOptions, 'imagePullPolicy'>,
): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: shape.metadata,
    spec: {
      replicas: ROUTER_REPLICAS,
      selector: { matchLabels: shape.selector },
      template: {
        metadata: {
          labels: shape.podLabels,
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(SERVER_PORT),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: {
          serviceAccountName: ROUTER_IDENTITY,
          securityContext: POD_SECURITY_CONTEXT,
          containers: [
            {
              name: 'router',
              image,
              ...(opts.imagePullPolicy ? { imagePullPolicy: opts.imagePullPolicy } : {}),
              command: ROUTER_COMMAND,
              env: [
                { name: 'LIGHTRANK_PORT', value: String(SERVER_PORT) },
                { name: 'LIGHTRANK_ROUTER_TABLE', value: shape.table },
                // Backends by their EndpointSlices, balanced per request (router/resolve-kubernetes.ts), read
                // with the pod's ServiceAccount (ROUTER_RULES grant it get/list/watch on endpointslices).
                { name: 'LIGHTRANK_ROUTER_RESOLVER', value: 'kubernetes' },
              ],
              ports: [{ name: 'http', containerPort: SERVER_PORT, protocol: 'TCP' }],
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'http' },
                periodSeconds: 2,
                failureThreshold: 2,
              },
              livenessProbe: {
                httpGet: { path: '/healthz', port: 'http' },
                periodSeconds: 10,
                failureThreshold: 6,
              },
              resources: { requests: { ...(shape.resources ?? ROUTER_RESOURCES).requests } },
              securityContext: CONTAINER_SECURITY_CONTEXT,
              volumeMounts: [{ name: 'table', mountPath: ROUTER_TABLE_DIR, readOnly: true }, TMP_MOUNT],
            },
          ],
          volumes: [{ name: 'table', configMap: { name: shape.configMap } }, TMP_VOLUME],
        },
      },
    },
  };
}

export function buildRouterService(model: RankingModel): Service {
  return routerService(routerMeta(model), selector(model.metadata.name));
}

/** A router Service on the router pods' `http` port. */
export function routerService(metadata: Service['metadata'], podSelector: Record<string, string>): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      type: 'ClusterIP',
      selector: podSelector,
      ports: [{ name: 'http', port: SERVER_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

function routerMeta(model: RankingModel) {
  const name = model.metadata.name;
  return {
    name: routerName(name),
    namespace: model.metadata.namespace,
    labels: labels(name),
    ownerReferences: [ownerReference(model)],
  };
}
