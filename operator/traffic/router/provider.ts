// The `router` traffic provider: lightrank's own router Deployment splits each segment between
// its stable and canary Services by the table in a ConfigMap. reconcile applies the router's
// table, Deployment and Service (the table at the weights the live one holds; the pods run as the
// namespace's shared router identity, which the reconciler applies first: identity.ts); setWeight rewrites the table only; verifyWeight reads the ConfigMap back and
// parses it with the router's own schema, so a table the router would refuse never counts as set.
import { parseTable, TableError } from '../../../router/table.js';
import { DEPLOYMENTS, SERVICES, type KubeObject, CONFIGMAPS } from '../../runtime/kube/types.js';
import { type ProviderContext, type TrafficProvider } from '../provider.js';
import {
  buildRouterConfigMap,
  buildRouterDeployment,
  buildRouterService,
  buildRouterTable,
  ROUTER_TABLE_KEY,
  routerName,
} from './objects.js';

export interface RouterProviderOptions {
  /** Image of the router (the server image: one image, several entry points). */
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
}

export class RouterProvider implements TrafficProvider {
  readonly mode = 'router' as const;

  constructor(
    private readonly ctx: ProviderContext,
    private readonly opts: RouterProviderOptions,
  ) {}

  private get ns(): string | undefined {
    return this.ctx.model.metadata.namespace;
  }

  async reconcile(): Promise<void> {
    const { owned, model } = this.ctx;
    for (const [segment, weight] of this.liveWeights(await this.table()))
      this.ctx.weights.set(segment, weight);
    // the table before the pods that mount it; the Service with the Deployment
    await this.applyTable();
    await Promise.all([
      owned.apply(DEPLOYMENTS, buildRouterDeployment(model, this.opts.image, this.opts)),
      owned.apply(SERVICES, buildRouterService(model)),
    ]);
  }

  weight(segment: string): number {
    return this.ctx.weights.get(segment) ?? 0;
  }

  async setWeight(segment: string, weight: number): Promise<void> {
    this.ctx.weights.set(segment, weight);
    await this.applyTable();
  }

  private async applyTable(): Promise<void> {
    const { owned, model, segments, weights, canaryServices } = this.ctx;
    await owned.apply(
      CONFIGMAPS,
      buildRouterConfigMap(model, buildRouterTable(model, segments, weights, canaryServices)),
    );
  }

  /** The live table's content, if there is one. */
  private async table(): Promise<string | undefined> {
    const cm = await this.ctx.owned.get<KubeObject & { data?: Record<string, string> }>(
      CONFIGMAPS,
      this.ns,
      routerName(this.ctx.model.metadata.name),
    );
    return cm?.data?.[ROUTER_TABLE_KEY];
  }

  /** Canary weight per spec segment in a table (none from a table the router would refuse). */
  private liveWeights(content: string | undefined): Map<string, number> {
    const out = new Map<string, number>();
    if (content === undefined) return out;
    try {
      const route = parseTable(content).models.get(this.ctx.model.metadata.name);
      for (const { name } of this.ctx.segments) {
        const r = route?.segments.get(name);
        if (r) out.set(name, r.backends.find((b) => b.track === 'canary')?.weight ?? 0);
      }
    } catch (err) {
      if (!(err instanceof TableError)) throw err;
    }
    return out;
  }

  async verifyWeight(segment: string, weight: number): Promise<boolean> {
    const content = await this.table();
    if (content === undefined) return false;
    try {
      const route = parseTable(content).models.get(this.ctx.model.metadata.name);
      const canary = route?.segments.get(segment)?.backends.find((b) => b.track === 'canary');
      return (canary?.weight ?? 0) === weight;
    } catch (err) {
      if (err instanceof TableError) return false;
      throw err;
    }
  }

  async removeManagedRoutes(): Promise<void> {
    const { owned, model } = this.ctx;
    const name = routerName(model.metadata.name);
    // the router identity is the namespace's, shared: the reconciler collects it (identity.ts)
    for (const ref of [DEPLOYMENTS, SERVICES, CONFIGMAPS]) await owned.deleteIfPresent(ref, this.ns, name);
  }
}
