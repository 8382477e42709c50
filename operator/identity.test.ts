import { describe, expect, it } from 'vitest';
import { buildSharedIdentity, identitiesOf, isSharedIdentity } from './identity.js';
import type { KubeObject } from './runtime/kube/types.js';

describe('buildSharedIdentity', () => {
  it("the scoring pods' ServiceAccount, Role (post Events, annotate pods) and RoleBinding: lightrank-scoring, no owner", () => {
    const objs = buildSharedIdentity('scoring', 'team');
    expect(objs.map(([ref, o]) => [ref.plural, o.kind])).toEqual([
      ['serviceaccounts', 'ServiceAccount'],
      ['roles', 'Role'],
      ['rolebindings', 'RoleBinding'],
    ]);
    for (const [, o] of objs) {
      expect(o.metadata).toMatchObject({ name: 'lightrank-scoring', namespace: 'team' });
      expect(o.metadata.labels).toMatchObject({
        'app.kubernetes.io/managed-by': 'lightrank-operator',
        'lightrank.dev/identity': 'scoring',
      });
      // shared by every model of the namespace: no model's label, no owner
      expect(o.metadata.labels?.['lightrank.dev/model']).toBeUndefined();
      expect(o.metadata.ownerReferences).toBeUndefined();
      expect(isSharedIdentity(o)).toBe(true);
    }
    const [, [, role], [, binding]] = objs as [unknown, [unknown, KubeObject], [unknown, KubeObject]];
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'patch'] },
    ]);
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'lightrank-scoring',
    });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'lightrank-scoring', namespace: 'team' },
    ]);
  });

  it("the routers' identity reads EndpointSlices and nothing else: lightrank-router", () => {
    const [sa, role, binding] = buildSharedIdentity('router', 'prod').map(([, o]) => o) as [
      KubeObject,
      KubeObject,
      KubeObject,
    ];
    for (const o of [sa, role, binding])
      expect(o.metadata).toMatchObject({ name: 'lightrank-router', namespace: 'prod' });
    expect(role.rules).toEqual([
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
    ]);
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'lightrank-router', namespace: 'prod' },
    ]);
  });
});

describe('isSharedIdentity', () => {
  const meta = (name: string, labels: Record<string, string>, owned = false): KubeObject => ({
    metadata: {
      name,
      labels,
      ...(owned
        ? { ownerReferences: [{ apiVersion: 'v1', kind: 'RankingModel', name: 'm', uid: 'u' }] }
        : {}),
    },
  });
  it('is the labelled name without an owner; a per-model identity of earlier versions is not', () => {
    expect(isSharedIdentity(meta('lightrank-router', { 'lightrank.dev/identity': 'router' }))).toBe(true);
    expect(isSharedIdentity(meta('lightrank-router', { 'lightrank.dev/identity': 'scoring' }))).toBe(false);
    expect(isSharedIdentity(meta('ads-scoring', {}))).toBe(false);
    expect(isSharedIdentity(meta('lightrank-scoring', { 'lightrank.dev/identity': 'scoring' }, true))).toBe(
      false,
    );
  });
});

describe('identitiesOf', () => {
  it('scoring always; the router identity in router mode (the default) only', () => {
    expect(identitiesOf({ spec: {} })).toEqual(['scoring', 'router']);
    expect(identitiesOf({ spec: { routing: { mode: 'router' } } })).toEqual(['scoring', 'router']);
    expect(identitiesOf({ spec: { routing: { mode: 'gatewayAPI' } } })).toEqual(['scoring']);
  });
});
