// The namespaced identity a model's pods run as, as pure functions: a ServiceAccount, a Role with
// the given rules and the RoleBinding between them, all under one name and metadata (labels, the
// model's owner reference). Shared by the scoring pods (builders.ts: post Events) and the router
// (traffic/router/objects.ts: read EndpointSlices); applied with compare-before-write.
import type { KubeObject, ObjectMeta, ResourceRef } from './runtime/kube/types.js';
import { ROLEBINDINGS, ROLES, SERVICEACCOUNTS } from './runtime/kube/types.js';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

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
