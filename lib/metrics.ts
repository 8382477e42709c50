// One home for metrics: a registry per deployable with the `lightrank_` name prefix, so
// tests can run several components in one process without name clashes.
import { Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'lightrank_';

export function createRegistry(component: string, opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}
