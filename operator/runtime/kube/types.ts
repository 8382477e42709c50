// Minimal shapes of Kubernetes objects as raw JSON, and the resources the operator touches.
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export interface KubeList<T extends KubeObject> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number; reason?: string; message?: string };
}

/**
 * Where a kind lives in the API: group ('' for core), version, plural, kind. Every kind the
 * operator reads or writes has its ref here (the RankingModel's own: operator/reconciler.ts).
 */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

export const DEPLOYMENTS: ResourceRef = {
  group: 'apps',
  version: 'v1',
  plural: 'deployments',
  kind: 'Deployment',
};
export const SERVICES: ResourceRef = { group: '', version: 'v1', plural: 'services', kind: 'Service' };
export const LEASES: ResourceRef = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  kind: 'Lease',
};
export const EVENTS: ResourceRef = { group: '', version: 'v1', plural: 'events', kind: 'Event' };
export const PODS: ResourceRef = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' };
export const NODES: ResourceRef = { group: '', version: 'v1', plural: 'nodes', kind: 'Node' };
export const CONFIGMAPS: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' };
export const SERVICEACCOUNTS: ResourceRef = {
  group: '',
  version: 'v1',
  plural: 'serviceaccounts',
  kind: 'ServiceAccount',
};
export const ROLES: ResourceRef = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  plural: 'roles',
  kind: 'Role',
};
export const ROLEBINDINGS: ResourceRef = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  plural: 'rolebindings',
  kind: 'RoleBinding',
};
export const JOBS: ResourceRef = { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job' };
export const HTTPROUTES: ResourceRef = {
  group: 'gateway.networking.k8s.io',
  version: 'v1',
  plural: 'httproutes',
  kind: 'HTTPRoute',
};

export function apiVersionOf(ref: ResourceRef): string {
  return ref.group ? `${ref.group}/${ref.version}` : ref.version;
}

export function keyOf(obj: { metadata: { namespace?: string; name: string } }): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export const HORIZONTALPODAUTOSCALERS: ResourceRef = {
  group: 'autoscaling',
  version: 'v2',
  plural: 'horizontalpodautoscalers',
  kind: 'HorizontalPodAutoscaler',
};
/** KEDA's ScaledObject (served only where KEDA's CRDs are installed). */
export const SCALEDOBJECTS: ResourceRef = {
  group: 'keda.sh',
  version: 'v1alpha1',
  plural: 'scaledobjects',
  kind: 'ScaledObject',
};
