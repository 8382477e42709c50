// The namespaced identities the operator's pods run as, as pure functions: a ServiceAccount, a
// Role with the given rules and the RoleBinding between them, all under one name and metadata.
// Two per namespace, shared by every RankingModel in it (identity.ts applies and collects them):
// `lightrank-scoring` for every scoring pod (the sync sidecar posts Events and annotates its own
// pod) and `lightrank-router` for every router pod (reads EndpointSlices). Applied with
// compare-before-write.
import type { KubeObject, ObjectMeta, ResourceRef } from './runtime/kube/types.js';
import { ROLEBINDINGS, ROLES, SERVICEACCOUNTS } from './runtime/kube/types.js';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** ServiceAccount, Role and RoleBinding every scoring pod of a namespace runs as. */
export const SCORING_IDENTITY = 'lightrank-scoring';
/** ServiceAccount, Role and RoleBinding every router pod of a namespace runs as. */
export const ROUTER_IDENTITY = 'lightrank-router';

/**
 * What the sync sidecar does with its token: post Events about refused models and snapshots, and
 * annotate its own pod with the snapshot it serves (RBAC cannot name a generated pod, so the
 * Role allows get/patch on every pod of the namespace).
 */
export const SCORING_RULES: PolicyRule[] = [
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'patch'] },
];

/** Read access to EndpointSlices in the namespace: all the router's resolver needs. */
export const ROUTER_RULES: PolicyRule[] = [
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
];

/** The pods' identity; its token is mounted (they talk to the API server). */
function buildServiceAccount(meta: ObjectMeta): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta };
}

function buildRole(meta: ObjectMeta, rules: PolicyRule[]): KubeObject {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta, rules };
}

/** Binds the Role to the ServiceAccount of the same name. */
function buildRoleBinding(meta: ObjectMeta): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta,
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: meta.name },
    subjects: [{ kind: 'ServiceAccount', name: meta.name, namespace: meta.namespace }],
  };
}

/** ServiceAccount, Role and RoleBinding sharing `meta`, in the order they are applied (the binding last). */
export function buildIdentity(meta: ObjectMeta, rules: PolicyRule[]): [ResourceRef, KubeObject][] {
  return [
    [SERVICEACCOUNTS, buildServiceAccount(meta)],
    [ROLES, buildRole(meta, rules)],
    [ROLEBINDINGS, buildRoleBinding(meta)],
  ];
}
