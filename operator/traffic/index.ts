// Picks the traffic provider for a RankingModel's routing mode, and the other mode's provider
// (whose managed routes are removed when a model switches modes). The reconciler builds both once
// per pass (its reconcileRouting step); the rollouts then set weights through the first.
import type { RoutingMode, ProviderContext, TrafficProvider } from './provider.js';
import { GatewayApiProvider } from './gatewayapi/provider.js';
import { RouterProvider, type RouterProviderOptions } from './router/provider.js';

export function createProvider(
  mode: RoutingMode,
  ctx: ProviderContext,
  router: RouterProviderOptions,
): TrafficProvider {
  return mode === 'gatewayAPI' ? new GatewayApiProvider(ctx) : new RouterProvider(ctx, router);
}

export function otherMode(mode: RoutingMode): RoutingMode {
  return mode === 'gatewayAPI' ? 'router' : 'gatewayAPI';
}
