// The in-process operator a cluster test file runs against: started before its tests, watching
// the file's namespace (resync an hour away, so only the test's changes drive it), stopped after.
import { afterAll, beforeAll } from 'vitest';
import { startInProcessOperator, type InProcessOperator } from '../../operator/testing.js';
import { clusterInfo } from '../harness/cluster.js';

/** Images the operator's Deployments name (kwok never pulls them). */
export const TEST_IMAGE = 'registry.test/lightrank-server:1';

/** Registers the hooks; `.op` is the running operator inside the tests. */
export function useInProcessOperator(ns: { readonly name: string }): { readonly op: InProcessOperator } {
  const fixture = {} as { op: InProcessOperator };
  beforeAll(async () => {
    fixture.op = await startInProcessOperator(clusterInfo().kubeconfigPath, ns.name, {
      serverImage: TEST_IMAGE,
      sidecarImage: TEST_IMAGE,
      resyncPeriodMs: 3_600_000,
    });
  });
  afterAll(async () => {
    await fixture.op?.stop();
  });
  return fixture;
}
