// Picks the traffic provider for a RankingModel's routing mode (and, in router mode, router scope),
// and the other providers (whose managed routes are removed when a model switches). The reconciler builds both once
// per pass (its reconcileRouting step); the rollouts then set weights through the first.
import type { RoutingMode, ProviderContext, TrafficProvider } from './provider.js';
import { GatewayApiProvider } from './gatewayapi/provider.js';
import { NamespaceRouterProvider, RouterProvider, type RouterProviderOptions } from './router/provider.js';

/** routerScope: the model's own router, or its namespace's shared one (router mode only). */
export type RouterScope = 'model' | 'namespace';

export function createProvider(
  mode: RoutingMode,
  ctx: ProviderContext,
  router: RouterProviderOptions,
  scope: RouterScope = 'model',
): TrafficProvider {
  if (mode === 'gatewayAPI') return new GatewayApiProvider(ctx);
  return scope === 'namespace' ? new NamespaceRouterProvider(ctx, router) : new RouterProvider(ctx, router);
}

/**
 * The providers a model in `mode` and `scope` does not use, whose managed routes it removes (after it
 * applied its own: a model switching router scope keeps a table until the other is in place).
 */
export function otherProviders(
  mode: RoutingMode,
  scope: RouterScope,
  ctx: ProviderContext,
  router: RouterProviderOptions,
): TrafficProvider[] {
  const all: [RoutingMode, RouterScope][] = [
    ['gatewayAPI', 'model'],
    ['router', 'model'],
    ['router', 'namespace'],
  ];
  const current = mode === 'gatewayAPI' ? 'model' : scope;
  return all
    .filter(([m, s]) => !(m === mode && s === current))
    .map(([m, s]) => createProvider(m, ctx, router, s));
}

export function otherMode(mode: RoutingMode): RoutingMode {
  return mode === 'gatewayAPI' ? 'router' : 'gatewayAPI';
}
