// The one interface every traffic provider implements (Argo Rollouts' trafficrouting shape,
// Flagger's Reconcile apart from SetRoutes): reconcile the provider's own infrastructure, set the
// canary weight of a segment, verify that weight is what the data plane serves, and remove
// everything the provider manages (when a RankingModel switches routing mode). One folder per
// provider: router/ (lightrank's own router + a ConfigMap table) and gatewayapi/ (HTTPRoutes).
// A provider is built per reconcile; its weights start from what the routing objects hold (the
// status is written after them, so it may lag them, never lead): reconcile() never writes a
// weight older than the one served.
import type { RankingModel } from '../../api/rankingmodel.js';
import type { ResolvedSegment } from '../../api/resolve.js';
import type { OwnedObjects } from '../runtime/kube/owned.js';

export type RoutingMode = 'router' | 'gatewayAPI';

export interface TrafficProvider {
  readonly mode: RoutingMode;
  /**
   * The provider's infrastructure (the router's Deployment, Service, identity and table; the
   * HTTPRoutes), applied at the weights the routing objects hold. Called once per reconcile,
   * before any setWeight.
   */
  reconcile(): Promise<void>;
  /** The canary weight of `segment` as the provider holds it now (after reconcile). */
  weight(segment: string): number;
  /** Send `weight` percent (0-100) of `segment`'s traffic to its canary track; other segments keep theirs. */
  setWeight(segment: string, weight: number): Promise<void>;
  /**
   * Whether the routing objects hold `weight` for `segment` and nothing reports them rejected.
   * A provider reads back what it wrote (the data plane applies it asynchronously).
   */
  verifyWeight(segment: string, weight: number): Promise<boolean>;
  /** Delete every routing object this provider manages for the model. */
  removeManagedRoutes(): Promise<void>;
}

/** What a provider needs: the objects the operator owns (cached reads, writes) and the model it routes. */
export interface ProviderContext {
  owned: OwnedObjects;
  model: RankingModel;
  segments: ResolvedSegment[];
  /**
   * The canary weight each segment has now, from status; reconcile() replaces each with what the
   * routing objects hold, and setWeight changes one.
   */
  weights: Map<string, number>;
  /**
   * The segments whose canary track Service exists (traffic/services.ts: it is there only around a
   * rollout). Only they, and a segment whose canary carries weight, get a canary backend: a table or
   * route never names a Service that is not there. The rollouts add a segment once they have
   * applied its canary Service, and take it out before they delete it.
   */
  canaryServices: Set<string>;
}
