// The namespace's shared router (`spec.routing.routerScope: namespace`), as pure functions: one
// Deployment and one Service `lightrank` for every namespace-scope model of the namespace, and one
// ConfigMap `lightrank` holding one key per model (`<model>.json`, the same version-1 table a model's
// own router reads, naming only that model), mounted as a directory (router/table-dir.ts).
//
// Name: every object a model owns is named `<model>-…` and model names are DNS-1035 labels, so a
// name without a hyphen is one no model's object can take (`lightrank-router` is the own router of a
// model named `lightrank`).
//
// Ownership: the Deployment, Service and ConfigMap have no owner (a model's owner reference would
// have the garbage collector delete them under the others); the operator applies them with the
// shared identities and collects them when no live model of the namespace wants them
// (operator/identity.ts). Each model's key is written by a JSON merge patch naming that key alone
// (OwnedObjects.setDataKey), one write of the ConfigMap at a time, so concurrent passes of different
// models never take each other's key, and a model leaving removes its key alone.
import type { RouterTableFile } from '../../../router/table.js';
import {
  LABEL_MANAGED_BY,
  MANAGED_BY,
  type BuildOptions,
  type Deployment,
  type Service,
} from '../../builders.js';
import {
  CONFIGMAPS,
  DEPLOYMENTS,
  SERVICES,
  type KubeObject,
  type ResourceRef,
} from '../../runtime/kube/types.js';
import { LABEL_COMPONENT, ROUTER_TABLE_DIR, routerDeployment, routerService } from './objects.js';

/** Deployment, Service and ConfigMap of the namespace's shared router. */
export const SHARED_ROUTER_NAME = 'lightrank';
/** Marks the shared router's objects and selects its pods (a model's router pods never carry it). */
export const LABEL_SHARED_ROUTER = 'lightrank.dev/shared-router';
const SHARED_ROUTER_VALUE = 'namespace';
/**
 * What the shared router's container requests: its table holds every namespace-scope model of the
 * namespace. A router process with a 1,000-model directory of tables measured 104.6 MiB RSS idle and
 * 108.8 MiB after 3,000 requests 32 at a time (Node 20.20, one segment per model,
 * `bench:router-memory -- --models 1000 --table-dir`, bench/results-operator.md 2026-12-06 12:16 UTC);
 * a model's own router requests 96Mi (ROUTER_RESOURCES).
 */
export const SHARED_ROUTER_RESOURCES = { requests: { cpu: '100m', memory: '128Mi' } };

function labels(): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'lightrank-router',
    'app.kubernetes.io/instance': SHARED_ROUTER_NAME,
    [LABEL_COMPONENT]: 'router',
    'app.kubernetes.io/part-of': 'lightrank',
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_SHARED_ROUTER]: SHARED_ROUTER_VALUE,
  };
}

const meta = (namespace: string) => ({ name: SHARED_ROUTER_NAME, namespace, labels: labels() });

/** Whether an object is one of a namespace's shared router objects (by its label and name, no owner). */
export function isSharedRouterObject(obj: KubeObject): boolean {
  return (
    obj.metadata.labels?.[LABEL_SHARED_ROUTER] === SHARED_ROUTER_VALUE &&
    obj.metadata.name === SHARED_ROUTER_NAME &&
    !obj.metadata.ownerReferences?.length
  );
}

/** Whether the model routes through its namespace's shared router. */
export function usesSharedRouter(model: { spec?: unknown } | KubeObject): boolean {
  const routing = (
    (model as { spec?: unknown }).spec as { routing?: { mode?: string; routerScope?: string } } | undefined
  )?.routing;
  return (routing?.mode ?? 'router') === 'router' && routing?.routerScope === 'namespace';
}

/**
 * The shared router's objects in the order they are applied (the table before the pods that mount
 * it); the ConfigMap as its labels only: the keys are the models' (buildTableKey).
 */
export function buildSharedRouter(
  namespace: string,
  image: string,
  opts: Pick<BuildOptions, 'imagePullPolicy'>,
): [ResourceRef, KubeObject][] {
  const selector = { [LABEL_SHARED_ROUTER]: SHARED_ROUTER_VALUE };
  const { 'app.kubernetes.io/managed-by': _by, ...podLabels } = labels();
  const deployment: Deployment = routerDeployment(
    {
      metadata: meta(namespace),
      selector,
      podLabels: { ...podLabels, ...selector },
      configMap: SHARED_ROUTER_NAME,
      table: ROUTER_TABLE_DIR,
      resources: SHARED_ROUTER_RESOURCES,
    },
    image,
    opts,
  );
  const service: Service = routerService(meta(namespace), selector);
  return [
    [CONFIGMAPS, buildSharedTable(namespace)],
    [DEPLOYMENTS, deployment],
    [SERVICES, service],
  ];
}

/** The model's key in the shared table ConfigMap (a file of the router's table directory). */
export function tableKey(model: string): string {
  return `${model}.json`;
}

/** The model a key of the shared table belongs to, or undefined for a key that is no model's. */
export function modelOfKey(key: string): string | undefined {
  return key.endsWith('.json') ? key.slice(0, -'.json'.length) : undefined;
}

/** The shared table ConfigMap as the operator applies it: its labels; the keys are the models'. */
export function buildSharedTable(namespace: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(namespace) };
}

/**
 * What a ConfigMap's data may hold: the API server refuses more than 1 MiB. Counted here as the
 * UTF-8 bytes of every key and value, a little above what the API server counts, so a table this
 * check lets through is never refused there.
 */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

/**
 * A model's key would take the shared table past what a ConfigMap holds: the pass fails with this
 * message (Degraded, a Warning Event, retried with backoff), the table keeps the other models' keys
 * as they are, and the model proceeds once there is room (a model deleted, or moved to its own
 * router).
 */
export class SharedTableFullError extends Error {
  override readonly name = 'SharedTableFullError';
}

/**
 * Throws SharedTableFullError when `data` (the shared table's keys now) with `key` set to `value`
 * would hold more than CONFIGMAP_MAX_BYTES.
 */
export function checkSharedTableRoom(
  namespace: string,
  data: Readonly<Record<string, string>>,
  key: string,
  value: string,
): void {
  const size = (k: string, v: string): number => Buffer.byteLength(k) + Buffer.byteLength(v);
  let others = 0;
  let models = 0;
  for (const [k, v] of Object.entries(data)) {
    if (k === key) continue;
    others += size(k, v);
    models++;
  }
  const mine = size(key, value);
  if (others + mine <= CONFIGMAP_MAX_BYTES) return;
  throw new SharedTableFullError(
    `the namespace's shared router table (ConfigMap ${namespace}/${SHARED_ROUTER_NAME}) has no room for ` +
      `${key} (${mine} bytes): its ${models} other keys hold ${others} bytes, and a ConfigMap holds at ` +
      `most ${CONFIGMAP_MAX_BYTES} (1 MiB): set spec.routing.routerScope: model on this model or others, ` +
      `or spread the models over more namespaces`,
  );
}

/** A model's key's content: its version-1 table, compact (a ConfigMap holds at most 1 MiB). */
export function tableContent(table: RouterTableFile): string {
  return `${JSON.stringify(table)}\n`;
}
