// Every manifest in examples/ is accepted by the real API server, and what it stores (with the
// CRD's defaults applied) is exactly what the zod schema makes of the same file: the CRD defaults
// and the operator's parsing agree.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { resolveSegments } from '../../api/resolve.js';
import { describe, expect, it } from 'vitest';
import {
  API_GROUP,
  API_VERSION,
  PLURAL,
  RankingModelSchema,
  RankingModelSpecSchema,
} from '../../api/rankingmodel.js';
import { REPO_ROOT } from '../harness/binaries.js';
import { clients, useTestNamespace } from '../harness/cluster.js';

const ns = useTestNamespace('examples');
const dir = join(REPO_ROOT, 'examples');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec: unknown;
}

describe('examples/', () => {
  it('holds the minimal, the GPU standard + shopping and the canary examples', () => {
    expect(files).toEqual(
      expect.arrayContaining(['minimal.yaml', 'standard-shopping-gpu.yaml', 'canary.yaml']),
    );
  });

  it.each(files)('%s is accepted, stored with the defaults the zod schema also applies', async (file) => {
    const manifest = parse(readFileSync(join(dir, file), 'utf8')) as Manifest;
    expect(manifest.kind).toBe('RankingModel');
    const target = { group: API_GROUP, version: API_VERSION, namespace: ns.name, plural: PLURAL };
    await clients().custom.createNamespacedCustomObject({
      ...target,
      body: manifest,
      fieldValidation: 'Strict',
    });
    const stored = RankingModelSchema.parse(
      await clients().custom.getNamespacedCustomObject({ ...target, name: manifest.metadata.name }),
    );
    // Defaults visible on the server side...
    expect(stored.spec.serving.gpu.resourceName).toBe('nvidia.com/gpu');
    expect(stored.spec.serving.batching.maxBatchSize).toBeGreaterThan(0);
    expect(stored.spec.rollout.steps.at(-1)?.weight).toBe(100);
    expect(stored.spec.routing.headerName).toBe('x-lightrank-segment');
    // a segment without replicas runs 1 pod, or its autoscaler's minimum
    for (const s of resolveSegments(stored.spec, { image: 'img' }))
      expect(s.replicas).toBeGreaterThanOrEqual(1);
    // ...and the same as zod's, field for field.
    expect(stored.spec).toEqual(RankingModelSpecSchema.parse(manifest.spec));
  });
});

describe('the GPU example', () => {
  it('tolerates the GPU taint and selects GPU nodes', () => {
    const manifest = parse(readFileSync(join(dir, 'standard-shopping-gpu.yaml'), 'utf8')) as Manifest;
    const spec = RankingModelSpecSchema.parse(manifest.spec);
    expect(spec.serving.executionProvider).toBe('cuda');
    expect(spec.serving.nodeSelector).toMatchObject({ 'nvidia.com/gpu.present': 'true' });
    expect(spec.serving.tolerations).toContainEqual({
      key: 'nvidia.com/gpu',
      operator: 'Exists',
      effect: 'NoSchedule',
    });
    expect(spec.segments.map((s) => s.name)).toEqual(['standard', 'shopping']);
  });
});
