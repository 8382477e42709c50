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
// The namespace's shared router (routing.routerScope namespace: its Deployment, Service and table
// ConfigMap, traffic/router/shared.ts) lives the same life: applied by a pass of any model that wants
// it, collected with the last; a collect also gives up the table keys of models no longer there or no
// longer in namespace scope, so a killed operator
// catches up when it collects next (a model gone, or at start).
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
  CONFIGMAPS,
  DEPLOYMENTS,
  ROLEBINDINGS,
  ROLES,
  SERVICEACCOUNTS,
  SERVICES,
  type KubeObject,
  type ResourceRef,
} from './runtime/kube/types.js';
import {
  buildSharedRouter,
  buildSharedTable,
  isSharedRouterObject,
  modelOfKey,
  SHARED_ROUTER_NAME,
  usesSharedRouter,
} from './traffic/router/shared.js';

export type IdentityKind = 'scoring' | 'router';
/** What a namespace shares: its two identities, and the shared router. */
export type SharedKind = IdentityKind | 'shared-router';
export const SHARED_KINDS: readonly SharedKind[] = ['scoring', 'router', 'shared-router'];

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

/** Whether an object is shared by a namespace's models (an identity, or the shared router's). */
export function isShared(obj: KubeObject): boolean {
  return isSharedIdentity(obj) || isSharedRouterObject(obj);
}

/** The identity kinds a model's pods run as. */
export function identitiesOf(model: { spec?: unknown } | KubeObject): IdentityKind[] {
  const mode = (model.spec as { routing?: { mode?: string } } | undefined)?.routing?.mode ?? 'router';
  return mode === 'router' ? ['scoring', 'router'] : ['scoring'];
}

/** What a model wants of its namespace's shared objects. */
export function sharedOf(model: { spec?: unknown } | KubeObject): SharedKind[] {
  return [...identitiesOf(model), ...(usesSharedRouter(model) ? (['shared-router'] as const) : [])];
}

/**
 * A shared object's name is held by an object the operator did not make (no managed-by label): the
 * pass fails with this message (Degraded, a Warning Event, retried with backoff) and the object is
 * left as it is. The model proceeds once the name is free.
 */
export class SharedNameTakenError extends Error {
  override readonly name = 'SharedNameTakenError';
  constructor(kind: SharedKind, ref: ResourceRef, namespace: string, objectName: string) {
    const fix =
      kind === 'shared-router'
        ? 'rename or delete it, or set spec.routing.routerScope: model'
        : 'rename or delete it';
    super(
      `${ref.kind} ${namespace}/${objectName} exists and was not made by lightrank (no label ` +
        `${LABEL_MANAGED_BY}=${MANAGED_BY}); the namespace's shared ${kind === 'shared-router' ? 'router' : `${kind} identity`} ` +
        `needs that name and will not take it over: ${fix}`,
    );
  }
}

/** The image and pull policy of the shared router's pods (the operator's router image). */
export interface SharedRouterOptions {
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
}

export class SharedIdentities {
  /** Applies in flight per `kind/namespace`: concurrent passes of one namespace's models share one. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly owned: OwnedObjects,
    private readonly models: Informer<KubeObject>,
    private readonly router?: SharedRouterOptions,
  ) {}

  /** The objects of a shared kind in a namespace, in the order they are applied. */
  private build(kind: SharedKind, namespace: string): [ResourceRef, KubeObject][] {
    if (kind !== 'shared-router') return buildSharedIdentity(kind, namespace);
    if (!this.router) throw new Error('no router image configured for the shared router');
    return buildSharedRouter(namespace, this.router.image, this.router);
  }

  /**
   * Apply the namespace's identity of `kind` (the binding with the rest: it may name a Role not
   * there yet). The passes of many new models run at once and would each find it missing (a
   * benchmark of 200 new models wrote each object 32 times): a pass joins the apply already in
   * flight instead, and those after it find this process's own write (OwnedObjects).
   */
  apply(kind: SharedKind, namespace: string, log: Logger): Promise<void> {
    const key = `${kind}/${namespace}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const done = this.applyNow(kind, namespace, log).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, done);
    return done;
  }

  private async applyNow(kind: SharedKind, namespace: string, log: Logger): Promise<void> {
    const objects = this.build(kind, namespace);
    // names users may have taken first: their objects are refused, never overwritten
    for (const [ref, desired] of objects) {
      const theirs = await this.owned.foreign(ref, namespace, desired.metadata.name);
      if (theirs) throw new SharedNameTakenError(kind, ref, namespace, desired.metadata.name);
    }
    await Promise.all(
      objects.map(async ([ref, desired]) => {
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
    const models = this.models.list((m) => m.metadata.namespace === namespace);
    const wanted = new Set(models.flatMap((m) => sharedOf(m)));
    for (const kind of SHARED_KINDS) {
      if (wanted.has(kind)) continue;
      const [name, refs] =
        kind === 'shared-router'
          ? [SHARED_ROUTER_NAME, [DEPLOYMENTS, SERVICES, CONFIGMAPS]]
          : [NAMES[kind], [...IDENTITY_KINDS].reverse()];
      for (const ref of refs) {
        // never an object of that name some model owns (or someone else made)
        const live = await this.owned.get(ref, namespace, name);
        if (!live || !isShared(live)) continue;
        if (await this.owned.deleteIfPresent(ref, namespace, name))
          log.info({ kind: ref.kind, name }, `shared ${ref.kind} no longer wanted; deleted`);
      }
    }
    if (wanted.has('shared-router'))
      await this.sweepTableKeys(
        namespace,
        new Set(models.filter(usesSharedRouter).map((m) => m.metadata.name)),
        log,
      );
  }

  /**
   * Collect (as `collect`) when an object of a kind the calling model does not want is there: a
   * model's pass calls this, and the cache reads below keep it from listing every model of the
   * namespace on every pass when there is nothing to collect.
   */
  async collectIfPresent(namespace: string, unwanted: readonly SharedKind[], log: Logger): Promise<void> {
    for (const kind of unwanted) {
      const [name, refs] =
        kind === 'shared-router'
          ? [SHARED_ROUTER_NAME, [DEPLOYMENTS, SERVICES, CONFIGMAPS]]
          : [NAMES[kind], IDENTITY_KINDS];
      for (const ref of refs)
        if (await this.owned.get(ref, namespace, name)) return this.collect(namespace, log);
    }
  }

  /** Give up the shared table's keys of models not in `keep` (gone, or out of namespace scope). */
  private async sweepTableKeys(namespace: string, keep: Set<string>, log: Logger): Promise<void> {
    const live = await this.owned.get<KubeObject & { data?: Record<string, string> }>(
      CONFIGMAPS,
      namespace,
      SHARED_ROUTER_NAME,
    );
    const stale = Object.keys(live?.data ?? {}).filter((k) => {
      const m = modelOfKey(k);
      return m !== undefined && !keep.has(m);
    });
    for (const key of stale) {
      if (await this.owned.setDataKey(CONFIGMAPS, buildSharedTable(namespace), key, undefined))
        log.info(
          { model: modelOfKey(key), key },
          'shared router table: key of a model no longer there removed',
        );
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
