// The contract between the operator and the pods it runs: every environment variable the
// operator writes into a scoring pod is one the container's entry point reads (a name declared
// once in api/pod-env.ts), so a rename on one side cannot silently leave the other reading a
// default.
import { describe, expect, it } from 'vitest';
import { PodEnv } from '../api/pod-env.js';
import { RankingModelSpecSchema, type RankingModel } from '../api/rankingmodel.js';
import { resolveSegments } from '../api/resolve.js';
import { buildDeployment } from '../operator/builders.js';
import { SERVER_OPTIONS, parseConfig } from '../server/config.js';
import { SIDECAR_OPTIONS, parseSidecarConfig } from '../sidecar/config.js';

const model: RankingModel = {
  apiVersion: 'lightrank.dev/v1alpha1',
  kind: 'RankingModel',
  metadata: { name: 'ads', namespace: 'team', uid: 'u', generation: 1 },
  spec: RankingModelSpecSchema.parse({
    model: {
      uri: 's3://m/ads.onnx',
      sha256: 'a'.repeat(64),
      version: 'v7',
      towerFingerprint: 'fp',
      tasks: ['ctr'],
    },
    snapshot: { uri: 's3://snaps/ads', pollIntervalSeconds: 15 },
    segments: [{ name: 'standard', replicas: 1 }],
  }),
};

type Env = { name: string; value?: string; valueFrom?: unknown }[];
function containers(): Record<string, Env> {
  const seg = resolveSegments(model.spec, { image: 'reg/server:1' })[0]!;
  const d = buildDeployment(model, seg, 'stable', { sidecarImage: 'reg/sidecar:1' }) as unknown as {
    spec: { template: { spec: { containers: { name: string; env: Env }[] } } };
  };
  return Object.fromEntries(d.spec.template.spec.containers.map((c) => [c.name, c.env]));
}

const envsOf = (spec: Record<string, { env?: string }>) => new Set(Object.values(spec).map((o) => o.env));
// The downward-API identity the sidecar's Event and pod-annotation reporters read.
const DOWNWARD = new Set<string>([PodEnv.PodName, PodEnv.PodNamespace, PodEnv.PodUid]);

describe('pod environment contract', () => {
  it('every variable written into the server container is a server option', () => {
    const server = containers().server!;
    expect(server.length).toBeGreaterThan(5);
    const read = envsOf(SERVER_OPTIONS);
    expect(server.map((e) => e.name).filter((n) => !read.has(n))).toEqual([]);
    // and the values parse: the operator never writes what the server refuses
    const env = Object.fromEntries(server.map((e) => [e.name, e.value]));
    expect(parseConfig([], env)).toMatchObject({ modelName: 'ads', segment: 'standard', track: 'stable' });
  });

  it('every variable written into the sync sidecar is a sidecar option or its downward-API identity', () => {
    const sync = containers().sync!;
    const read = envsOf(SIDECAR_OPTIONS);
    expect(sync.map((e) => e.name).filter((n) => !read.has(n) && !DOWNWARD.has(n))).toEqual([]);
    expect(sync.filter((e) => DOWNWARD.has(e.name)).map((e) => e.name)).toEqual([...DOWNWARD]);
    const env = Object.fromEntries(sync.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    expect(parseSidecarConfig([], env)!.sync).toMatchObject({
      model: { uri: 's3://m/ads.onnx', version: 'v7', fingerprint: 'fp' },
      snapshotUri: 's3://snaps/ads',
      pollMs: 15_000,
    });
  });
});
