// OwnedObjects against the real API server: reads come from an informer's cache, and the
// writes made through it win over a cache that has not caught up with them — an object applied
// a moment ago is not applied again, one deleted a moment ago is not deleted again (or taken for
// present) — while a newer change by someone else, once the cache has it, wins over them.
// A stopped informer stands for a cache that lags: it holds what it listed and nothing after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { MANAGED_SELECTOR, scoringLabels } from '../../operator/builders.js';
import type { KubeClient } from '../../operator/runtime/kube/client.js';
import { Informer } from '../../operator/runtime/kube/informer.js';
import { OwnedObjects } from '../../operator/runtime/kube/owned.js';
import type { KubeObject } from '../../operator/runtime/kube/types.js';
import { testClient } from '../../operator/testing.js';
import { clusterInfo, useTestNamespace, waitFor } from '../harness/cluster.js';
import { CONFIGMAPS, HTTPROUTES } from '../../operator/runtime/kube/types.js';

const ns = useTestNamespace('owned-objects');
let client: KubeClient;
const logger = createLogger('owned-objects-test');
beforeAll(() => {
  client = testClient(clusterInfo().kubeconfigPath);
});
afterAll(() => client.close());

type ConfigMap = KubeObject & { data?: Record<string, string> };
const configMap = (name: string, value: string): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: ns.name, labels: scoringLabels('m') },
  data: { value },
});

async function syncedInformer(): Promise<Informer<KubeObject>> {
  const inf = new Informer<KubeObject>(client, {
    ref: CONFIGMAPS,
    namespace: ns.name,
    labelSelector: MANAGED_SELECTOR,
    backoff: { baseMs: 50, maxMs: 500, jitter: 0 },
    logger,
  });
  inf.start();
  await inf.waitForSync();
  return inf;
}

/** A client that records the verb of every API call it makes. */
function counting(): {
  calls: string[];
  spy: KubeClient;
  owned: (inf: Informer<KubeObject>) => OwnedObjects;
} {
  const calls: string[] = [];
  const request = client.request.bind(client);
  const spy = Object.assign(Object.create(client) as typeof client, {
    request: (opts: Parameters<typeof client.request>[0]) => {
      calls.push(opts.verb);
      return request(opts);
    },
  });
  return { calls, spy, owned: (inf) => new OwnedObjects(spy, [[CONFIGMAPS, inf]]) };
}

describe('OwnedObjects', () => {
  it('trusts its own writes and deletions over a cache that lags them', async () => {
    const lagging = await syncedInformer();
    await lagging.stop();
    const { calls, owned } = counting();
    const objects = owned(lagging);

    expect((await objects.apply(CONFIGMAPS, configMap('a', '1'))).outcome).toBe('created');
    expect(objects.peek<ConfigMap>(CONFIGMAPS, ns.name, 'a')?.data).toEqual({ value: '1' });
    // the cache never saw it: without the record this would apply again
    expect((await objects.apply(CONFIGMAPS, configMap('a', '1'))).outcome).toBe('unchanged');
    expect(calls).toEqual(['apply']);

    expect((await objects.apply(CONFIGMAPS, configMap('a', '2'))).outcome).toBe('updated');
    expect(await objects.deleteIfPresent(CONFIGMAPS, ns.name, 'a')).toBe(true);
    expect(objects.peek(CONFIGMAPS, ns.name, 'a')).toBeUndefined();
    expect(await objects.deleteIfPresent(CONFIGMAPS, ns.name, 'a')).toBe(false);
    expect(calls).toEqual(['apply', 'apply', 'delete']);
    await expect(client.get(CONFIGMAPS, ns.name, 'a')).rejects.toThrow(/404|not found/i);
  });

  it('takes a newer change by someone else from the cache, and sees a deleted name come back', async () => {
    const cache = await syncedInformer();
    try {
      const { calls, owned } = counting();
      const objects = owned(cache);
      await objects.apply(CONFIGMAPS, configMap('b', 'mine'));
      // someone edits it by hand (a plain update, another writer)
      const live = await client.get<ConfigMap>(CONFIGMAPS, ns.name, 'b');
      await client.replace(CONFIGMAPS, { ...live, data: { value: 'theirs' } });
      await waitFor(
        'the informer to see the hand edit',
        () => (cache.get(ns.name, 'b') as ConfigMap | undefined)?.data?.value === 'theirs',
        { timeoutMs: 10_000 },
      );
      expect(objects.peek<ConfigMap>(CONFIGMAPS, ns.name, 'b')?.data).toEqual({ value: 'theirs' });
      // and the next apply undoes it
      expect((await objects.apply(CONFIGMAPS, configMap('b', 'mine'))).outcome).toBe('updated');

      await objects.deleteIfPresent(CONFIGMAPS, ns.name, 'b');
      await client.create(CONFIGMAPS, configMap('b', 'again'));
      await waitFor(
        'the informer to see the new object',
        () => (cache.get(ns.name, 'b') as ConfigMap | undefined)?.data?.value === 'again',
        { timeoutMs: 10_000 },
      );
      expect(objects.peek<ConfigMap>(CONFIGMAPS, ns.name, 'b')?.data).toEqual({ value: 'again' });
      expect(calls.filter((v) => v === 'get' || v === 'list')).toEqual([]);
    } finally {
      await cache.stop();
    }
  });

  it('knows which kinds the cluster serves, and lists none of an absent kind without asking', async () => {
    const widgets = { group: 'example.com', version: 'v1', plural: 'widgets', kind: 'Widget' };
    expect(await client.serves(CONFIGMAPS)).toBe(true);
    expect(await client.serves(HTTPROUTES)).toBe(true); // the test cluster installs the Gateway API CRDs
    expect(await client.serves(widgets)).toBe(false);
    expect(await client.serves({ ...CONFIGMAPS, plural: 'widgets' })).toBe(false);

    const { calls, spy } = counting();
    const objects = new OwnedObjects(spy, [], [widgets]);
    expect(await objects.list(widgets, ns.name, MANAGED_SELECTOR)).toEqual([]);
    expect(calls).toEqual([]);
    // a kind neither cached nor absent is listed live
    expect(await objects.list(HTTPROUTES, ns.name, MANAGED_SELECTOR)).toEqual([]);
    expect(calls).toEqual(['list']);
  });
});
