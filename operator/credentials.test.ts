// Storage credentials from a Secret (spec.snapshot.credentials): envFrom on the containers that
// touch the snapshot's storage — the sync sidecar, the shard and the publish pods — and on no
// other; a segment's own snapshot brings its own Secret; the schema refuses a bad Secret name.
import { describe, expect, it } from 'vitest';
import { RankingModelSchema } from '../api/rankingmodel.js';
import { resolveSegments } from '../api/resolve.js';
import { builtSpec } from '../api/testing.js';
import { buildDeployment } from './builders.js';
import { buildPublishJob, buildShardJob } from './build/objects.js';

type Pod = { containers: { name: string; envFrom?: unknown; env?: { name: string }[] }[] };

function model(edit: (s: ReturnType<typeof builtSpec>) => void) {
  const spec = builtSpec();
  spec.snapshot!.uri = 's3://snaps/ads';
  edit(spec);
  return RankingModelSchema.parse({
    apiVersion: 'lightrank.dev/v1alpha1',
    kind: 'RankingModel',
    metadata: { name: 'ads', namespace: 'ml', uid: 'u-1', generation: 1 },
    spec,
  });
}

const podOf = (o: { spec: unknown }) => (o.spec as { template: { spec: Pod } }).template.spec;

describe('snapshot.credentials', () => {
  it('the Secret is envFrom of the sync sidecar and of the shard and publish pods, not of the server', () => {
    const m = model((s) => (s.snapshot!.credentials = { secretRef: { name: 'snapshot-store' } }));
    const seg = resolveSegments(m.spec, { image: 'img:1' })[0]!;
    const want = [{ secretRef: { name: 'snapshot-store' } }];
    const scoring = podOf(buildDeployment(m, seg, 'stable', { sidecarImage: 'img:1' }));
    expect(scoring.containers.find((c) => c.name === 'sync')?.envFrom).toEqual(want);
    expect(scoring.containers.find((c) => c.name === 'server')?.envFrom).toBeUndefined();
    for (const job of [buildShardJob(m, seg, 'v1'), buildPublishJob(m, seg, 'v1')]) {
      const c = podOf(job).containers[0]!;
      expect(c.envFrom).toEqual(want);
      // the secret's values are not copied into the spec of any pod
      expect(c.env?.some((e) => e.name.startsWith('AWS_SECRET'))).toBe(false);
    }
  });

  it('none without credentials; a segment’s own snapshot brings its own Secret', () => {
    const m = model((s) => {
      s.segments = [
        { name: 'main', replicas: 1 },
        {
          name: 'shop',
          replicas: 1,
          snapshot: { uri: 's3://other/shop', credentials: { secretRef: { name: 'shop-store' } } },
        },
      ];
    });
    const [main, shop] = resolveSegments(m.spec, { image: 'img:1' });
    const sync = (seg: typeof main) =>
      podOf(buildDeployment(m, seg!, 'stable', { sidecarImage: 'img:1' })).containers.find(
        (c) => c.name === 'sync',
      );
    expect(sync(main)?.envFrom).toBeUndefined();
    expect(podOf(buildShardJob(m, main!, 'v1')).containers[0]!.envFrom).toBeUndefined();
    expect(sync(shop)?.envFrom).toEqual([{ secretRef: { name: 'shop-store' } }]);
  });

  it('refuses a name that is no Secret name, saying so', () => {
    const parse = () => model((s) => (s.snapshot!.credentials = { secretRef: { name: 'Store_Creds' } }));
    expect(parse).toThrow(/must be a Secret name/);
  });
});
