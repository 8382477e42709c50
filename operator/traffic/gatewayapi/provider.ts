// The `gatewayAPI` traffic provider: one HTTPRoute per segment (httproute.ts); reconcile applies
// every segment's route at the weight its live route holds; setWeight writes only that segment's
// route, so a shopping canary never touches standard's. verifyWeight reads the
// route back: the weight must be in its spec, and no parent (Gateway) may report it not Accepted
// for this generation. removeManagedRoutes deletes every HTTPRoute the operator made for the model.
import { ApiError, isNotFound } from '../../runtime/kube/client.js';
import { LABEL_MODEL, MANAGED_SELECTOR } from '../../builders.js';
import { type ProviderContext, type TrafficProvider } from '../provider.js';
import { buildHttpRoute, httpRouteName, type HttpRoute } from './httproute.js';
import { backendService } from '../services.js';
import { HTTPROUTES } from '../../runtime/kube/types.js';

interface RouteStatus {
  parents?: { conditions?: { type: string; status: string; observedGeneration?: number }[] }[];
}

export class GatewayApiProvider implements TrafficProvider {
  readonly mode = 'gatewayAPI' as const;

  constructor(private readonly ctx: ProviderContext) {}

  private get ns(): string | undefined {
    return this.ctx.model.metadata.namespace;
  }

  async reconcile(): Promise<void> {
    for (const seg of this.ctx.segments) {
      const live = await this.route(seg.name);
      if (live) this.ctx.weights.set(seg.name, canaryWeight(live, this.canaryService(seg.name)));
      await this.applyRoute(seg.name);
    }
  }

  weight(segment: string): number {
    return this.ctx.weights.get(segment) ?? 0;
  }

  async setWeight(segment: string, weight: number): Promise<void> {
    this.ctx.weights.set(segment, weight);
    await this.applyRoute(segment);
  }

  private canaryService(segment: string): string {
    return backendService(this.ctx.model.metadata.name, segment, 'canary').name;
  }

  private route(segment: string) {
    return this.ctx.owned.get<HttpRoute & { status?: RouteStatus }>(
      HTTPROUTES,
      this.ns,
      httpRouteName(this.ctx.model.metadata.name, segment),
    );
  }

  private async applyRoute(segment: string): Promise<void> {
    const seg = this.ctx.segments.find((s) => s.name === segment);
    if (!seg) throw new Error(`gatewayAPI provider: no segment ${segment} in the spec`);
    const desired = buildHttpRoute(
      this.ctx.model,
      seg,
      this.weight(segment),
      this.ctx.canaryServices.has(segment),
    );
    try {
      await this.ctx.owned.apply(HTTPROUTES, desired);
    } catch (err) {
      // a 404 on an apply: the resource type itself is missing
      if (isNotFound(err))
        throw new Error(
          `HTTPRoute ${desired.metadata.name}: the cluster does not serve gateway.networking.k8s.io/v1 HTTPRoutes; install the Gateway API CRDs (then restart the operator) or use routing.mode: router`,
        );
      throw err;
    }
  }

  async verifyWeight(segment: string, weight: number): Promise<boolean> {
    const route = await this.route(segment);
    if (!route) return false;
    if (canaryWeight(route, this.canaryService(segment)) !== weight) return false;
    // a Gateway controller that refused this generation of the route does not serve the weight
    const generation = route.metadata.generation ?? 0;
    const refused = (route.status?.parents ?? []).some((p) =>
      (p.conditions ?? []).some(
        (c) =>
          c.type === 'Accepted' && c.status === 'False' && (c.observedGeneration ?? generation) >= generation,
      ),
    );
    return !refused;
  }

  async removeManagedRoutes(): Promise<void> {
    const { owned, model } = this.ctx;
    let routes;
    try {
      routes = await owned.list<HttpRoute>(
        HTTPROUTES,
        this.ns,
        `${MANAGED_SELECTOR},${LABEL_MODEL}=${model.metadata.name}`,
        (r) => r.metadata.labels?.[LABEL_MODEL] === model.metadata.name,
      );
    } catch (err) {
      // no Gateway API CRDs in this cluster, or no RBAC for them: nothing was ever written
      if (isNotFound(err) || (err instanceof ApiError && err.status === 403)) return;
      throw err;
    }
    for (const r of routes) await owned.deleteIfPresent(HTTPROUTES, this.ns, r.metadata.name);
  }
}

/**
 * The weight of the route's backendRef to `canaryService`, 0 without one. By its exact name: the
 * stable backend is the segment's Service `<model>-<segment>`, which ends in `-canary` itself for a
 * segment named `canary`.
 */
export function canaryWeight(route: HttpRoute, canaryService: string): number {
  return route.spec.rules[0]?.backendRefs.find((b) => b.name === canaryService)?.weight ?? 0;
}
