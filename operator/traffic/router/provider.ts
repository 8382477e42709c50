// The `router` traffic provider: lightrank's own router Deployment splits each segment between
// its stable and canary Services by the table in a ConfigMap. reconcile applies the router's
// table, Deployment and Service (the table at the weights the live one holds; the pods run as the
// namespace's shared router identity, which the reconciler applies first: identity.ts); setWeight rewrites the table only; verifyWeight reads the ConfigMap back and
// parses it with the router's own schema, so a table the router would refuse never counts as set.
//
// Two scopes, one class each, the same table logic: RouterProvider, the model's own router
// (`<model>-router`, routerScope model); NamespaceRouterProvider, the model's key in the namespace's
// shared router table (routerScope namespace, traffic/router/shared.ts), whose Deployment and Service
// are applied with the namespace's shared objects (identity.ts), not here.
import { parseTable, TableError, type RouterTableFile } from '../../../router/table.js';
import { DEPLOYMENTS, SERVICES, type KubeObject, CONFIGMAPS } from '../../runtime/kube/types.js';
import { type ProviderContext, type TrafficProvider } from '../provider.js';
import {
  buildSharedTable,
  checkSharedTableRoom,
  SHARED_ROUTER_NAME,
  tableContent,
  tableKey,
} from './shared.js';
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
    protected readonly ctx: ProviderContext,
    private readonly opts: RouterProviderOptions,
  ) {}

  protected get ns(): string | undefined {
    return this.ctx.model.metadata.namespace;
  }

  async reconcile(): Promise<void> {
    for (const [segment, weight] of this.liveWeights(await this.table()))
      this.ctx.weights.set(segment, weight);
    // the table before the pods that mount it; the Service with the Deployment
    await this.applyTable();
    await this.reconcileRouter();
  }

  /** The model's own router Deployment and Service. */
  protected async reconcileRouter(): Promise<void> {
    const { owned, model } = this.ctx;
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
    const { model, segments, weights, canaryServices } = this.ctx;
    await this.writeTable(buildRouterTable(model, segments, weights, canaryServices));
  }

  /** Writes the model's table where its router reads it. */
  protected async writeTable(table: RouterTableFile): Promise<void> {
    await this.ctx.owned.apply(CONFIGMAPS, buildRouterConfigMap(this.ctx.model, table));
  }

  /** The live table's content, if there is one. */
  protected async table(): Promise<string | undefined> {
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

/**
 * routerScope namespace: the model's table is its key of the namespace's shared router ConfigMap,
 * written alone (OwnedObjects.setDataKey); removing its routes removes that key. The shared
 * Deployment and Service are the namespace's (applied and collected in identity.ts).
 */
export class NamespaceRouterProvider extends RouterProvider {
  protected override async reconcileRouter(): Promise<void> {}

  protected override async writeTable(table: RouterTableFile): Promise<void> {
    const { model, owned } = this.ctx;
    const namespace = this.ns ?? 'default';
    const key = tableKey(model.metadata.name);
    const content = tableContent(table);
    await owned.setDataKey(CONFIGMAPS, buildSharedTable(namespace), key, content, (data) =>
      checkSharedTableRoom(namespace, data, key, content),
    );
  }

  protected override async table(): Promise<string | undefined> {
    const cm = await this.ctx.owned.get<KubeObject & { data?: Record<string, string> }>(
      CONFIGMAPS,
      this.ns,
      SHARED_ROUTER_NAME,
    );
    return cm?.data?.[tableKey(this.ctx.model.metadata.name)];
  }

  override async removeManagedRoutes(): Promise<void> {
    const { model, owned } = this.ctx;
    await owned.setDataKey(
      CONFIGMAPS,
      buildSharedTable(this.ns ?? 'default'),
      tableKey(model.metadata.name),
      undefined,
    );
  }
}
