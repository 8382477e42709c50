// The identities the operator's pods run as, one set per namespace, shared by every RankingModel
// in it: `lightrank-scoring` (ServiceAccount, Role, RoleBinding) for every scoring pod and
// `lightrank-router` for every router pod. Per model they cost 6 writes on creation and 6 objects
// in etcd and in every cache; per namespace they cost 6 once.
//
// Privilege: the same as per model. Both Roles were namespace-wide already: a sidecar may patch
// any pod of its namespace (RBAC `resourceNames` cannot name generated pod names, and Events are
// created under generated names too), and a router reads every EndpointSlice of its namespace
// (list/watch cannot be narrowed by name). Sharing lets one model's pods do what another model's
// could already; the boundary is the namespace, as before. Put models that must not share it in
// namespaces of their own.
//
// Ownership: no owner reference. An owner reference per model would make every new model rewrite
// the three objects (a write each), and one owner alone would have the garbage collector delete
// them under the other models. The operator collects them itself: when a model is gone, or a pass
// sees no live model of the namespace wanting one any more, it deletes that identity (cache reads
// first: nothing is sent when there is nothing to delete). A model created while the last one's
// identity is being deleted gets it back: the deletion of a shared object requeues every model
// of its namespace (manager.ts), and their next pass re-applies it.
//
// Upgrade: the per-model identities of earlier versions (`<model>-scoring`, `<model>-router`, owned
// by their model) are deleted in the pass that moves the model's pods to the shared ones (their
// pod templates change, so the pods are replaced; until then the old pods' sidecars cannot post
// Events or annotate, which they treat as best effort).
import { LABEL_MANAGED_BY, MANAGED_BY, ownerReference } from './builders.js';
import type { RankingModel } from '../api/rankingmodel.js';
import type { Logger } from '../lib/logger.js';
import { buildIdentity, ROUTER_IDENTITY, ROUTER_RULES, SCORING_IDENTITY, SCORING_RULES } from './rbac.js';
import type { Informer } from './runtime/kube/informer.js';
import type { OwnedObjects } from './runtime/kube/owned.js';
import {
  ROLEBINDINGS,
  ROLES,
  SERVICEACCOUNTS,
  type KubeObject,
  type ResourceRef,
} from './runtime/kube/types.js';

export type IdentityKind = 'scoring' | 'router';

/** The label that marks a shared identity object, with its kind as the value. */
export const LABEL_IDENTITY = 'lightrank.dev/identity';

const NAMES: Record<IdentityKind, string> = { scoring: SCORING_IDENTITY, router: ROUTER_IDENTITY };
const IDENTITY_KINDS: readonly ResourceRef[] = [SERVICEACCOUNTS, ROLES, ROLEBINDINGS];

/** The namespace's shared identity of one kind: ServiceAccount, Role and RoleBinding, no owner. */
export function buildSharedIdentity(kind: IdentityKind, namespace: string): [ResourceRef, KubeObject][] {
  return buildIdentity(
    {
      name: NAMES[kind],
      namespace,
      labels: {
        'app.kubernetes.io/name': kind === 'scoring' ? 'lightrank-server' : 'lightrank-router',
        'app.kubernetes.io/component': kind,
        'app.kubernetes.io/part-of': 'lightrank',
        [LABEL_MANAGED_BY]: MANAGED_BY,
        [LABEL_IDENTITY]: kind,
      },
    },
    kind === 'scoring' ? SCORING_RULES : ROUTER_RULES,
  );
}

/** Whether an object is one of the shared identities (by its label and name, no owner). */
export function isSharedIdentity(obj: KubeObject): boolean {
  const kind = obj.metadata.labels?.[LABEL_IDENTITY] as IdentityKind | undefined;
  return kind !== undefined && NAMES[kind] === obj.metadata.name && !obj.metadata.ownerReferences?.length;
}

/** The identity kinds a model's pods run as. */
export function identitiesOf(model: { spec?: unknown } | KubeObject): IdentityKind[] {
  const mode = (model.spec as { routing?: { mode?: string } } | undefined)?.routing?.mode ?? 'router';
  return mode === 'router' ? ['scoring', 'router'] : ['scoring'];
}

export class SharedIdentities {
  /** Applies in flight per `kind/namespace`: concurrent passes of one namespace's models share one. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly owned: OwnedObjects,
    private readonly models: Informer<KubeObject>,
  ) {}

  /**
   * Apply the namespace's identity of `kind` (the binding with the rest: it may name a Role not
   * there yet). The passes of many new models run at once and would each find it missing (a
   * benchmark of 200 new models wrote each object 32 times): a pass joins the apply already in
   * flight instead, and those after it find this process's own write (OwnedObjects).
   */
  apply(kind: IdentityKind, namespace: string, log: Logger): Promise<void> {
    const key = `${kind}/${namespace}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const done = this.applyNow(kind, namespace, log).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, done);
    return done;
  }

  private async applyNow(kind: IdentityKind, namespace: string, log: Logger): Promise<void> {
    await Promise.all(
      buildSharedIdentity(kind, namespace).map(async ([ref, desired]) => {
        const applied = await this.owned.apply(ref, desired);
        if (applied.outcome !== 'unchanged')
          log.info(
            { kind: ref.kind, name: desired.metadata.name, field: applied.field },
            `shared ${ref.kind} ${applied.outcome}`,
          );
      }),
    );
  }

  /**
   * Delete the namespace's identities no model in the cache wants (a model being deleted still
   * does: its pods run until the garbage collector removes them).
   */
  async collect(namespace: string, log: Logger): Promise<void> {
    const wanted = new Set(
      this.models.list((m) => m.metadata.namespace === namespace).flatMap((m) => identitiesOf(m)),
    );
    for (const kind of ['scoring', 'router'] as const) {
      if (wanted.has(kind)) continue;
      for (const ref of [...IDENTITY_KINDS].reverse()) {
        if (await this.owned.deleteIfPresent(ref, namespace, NAMES[kind]))
          log.info({ kind: ref.kind, name: NAMES[kind] }, `shared ${ref.kind} no longer wanted; deleted`);
      }
    }
  }

  /** Delete the model's own identities of earlier versions (`<model>-scoring`, `<model>-router`) it owns. */
  async removeLegacy(model: RankingModel, log: Logger): Promise<void> {
    const ns = model.metadata.namespace;
    const uid = ownerReference(model).uid;
    for (const suffix of ['scoring', 'router']) {
      const name = `${model.metadata.name}-${suffix}`;
      for (const ref of IDENTITY_KINDS) {
        const live = await this.owned.get(ref, ns, name);
        // only what this model owns: a model named "lightrank" would otherwise take the shared ones
        if (!live?.metadata.ownerReferences?.some((r) => r.uid === uid)) continue;
        if (await this.owned.deleteIfPresent(ref, ns, name))
          log.info({ kind: ref.kind, name }, `per-model ${ref.kind} replaced by the shared one; deleted`);
      }
    }
  }
}
