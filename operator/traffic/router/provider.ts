// The `router` traffic provider: lightrank's own router Deployment splits each segment between
// its stable and canary Services by the table in a ConfigMap. setWeight rewrites the table (and
// keeps the router's ServiceAccount, Role, RoleBinding, Deployment and Service applied); verifyWeight reads the ConfigMap back and
// parses it with the router's own schema, so a table the router would refuse never counts as set.
import { parseTable, TableError } from '../../../router/table.js';
import { applyIfChanged } from '../../apply.js';
import { DEPLOYMENTS, SERVICES, type KubeObject, type ResourceRef } from '../../kube/types.js';
import { ROLEBINDINGS, ROLES, SERVICEACCOUNTS } from '../../rbac.js';
import {
  CONFIGMAPS,
  deleteIfPresent,
  readLive,
  type ProviderContext,
  type TrafficProvider,
} from '../provider.js';
import {
  buildRouterConfigMap,
  buildRouterIdentity,
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

  async setWeight(segment: string, weight: number): Promise<void> {
    this.ctx.weights.set(segment, weight);
    const { client, model, segments, weights } = this.ctx;
    const name = routerName(model.metadata.name);
    const apply = async (ref: ResourceRef, desired: KubeObject) =>
      applyIfChanged(client, ref, desired, await readLive(client, ref, this.ns, name));
    await apply(CONFIGMAPS, buildRouterConfigMap(model, buildRouterTable(model, segments, weights)));
    // the router's identity and its read access to EndpointSlices, before the pods that use them
    for (const [ref, desired] of buildRouterIdentity(model)) await apply(ref, desired);
    const dep = buildRouterDeployment(model, this.opts.image, this.opts);
    await apply(DEPLOYMENTS, dep);
    await apply(SERVICES, buildRouterService(model));
  }

  async verifyWeight(segment: string, weight: number): Promise<boolean> {
    const cm = await readLive<KubeObject & { data?: Record<string, string> }>(
      this.ctx.client,
      CONFIGMAPS,
      this.ns,
      routerName(this.ctx.model.metadata.name),
    );
    const content = cm?.data?.[ROUTER_TABLE_KEY];
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
    const { client, model } = this.ctx;
    const name = routerName(model.metadata.name);
    await deleteIfPresent(client, DEPLOYMENTS, this.ns, name);
    await deleteIfPresent(client, SERVICES, this.ns, name);
    await deleteIfPresent(client, CONFIGMAPS, this.ns, name);
    for (const ref of [ROLEBINDINGS, ROLES, SERVICEACCOUNTS])
      await deleteIfPresent(client, ref, this.ns, name);
  }
}
