// The demo's RankingModel: examples/standard-shopping-gpu.yaml, adapted to this machine. What
// changes, and why (printed by the demo too):
//   - model/snapshot URIs, sha256s, fingerprints: the model kit's towers on the local storage server;
//   - one replica per segment (the pods run as real processes on a shared machine);
//   - nodeSelector: the local node agent's node, whose GPUs are a named test double (the server's
//     CUDA provider falls back to CPU with a log line), instead of H100 labels;
//   - small CPU/memory requests; a canary policy with short steps, and analysis when Prometheus runs.
//
// API:
//   demoRankingModel(opts) → object         the manifest to apply (plain JSON)
//   newModelVersion(model) → spec patch     standard's default model → v2
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { DemoStorage, StoredModel } from './storage.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/standard-shopping-gpu.yaml', import.meta.url));
export const GPU_TEST_DOUBLE_LABEL = 'lightrank.dev/gpu-test-double';

export interface DemoModelOptions {
  namespace: string;
  storage: DemoStorage;
  storageUrl: string;
  nodeName: string;
  stepSeconds: number;
  /** base URL of Prometheus for the canary analysis; undefined: no analysis */
  prometheusUrl?: string;
}

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: Record<string, unknown> & {
    segments: ({ name: string; replicas?: number; model?: unknown; snapshot?: unknown } & Record<
      string,
      unknown
    >)[];
    serving: Record<string, unknown>;
  };
};

export function modelRef(m: StoredModel, storageUrl: string): Record<string, unknown> {
  return {
    uri: `${storageUrl}/${m.path}`,
    sha256: m.sha256,
    version: m.version,
    towerFingerprint: m.fingerprint,
    tasks: m.tasks,
  };
}

export function demoRankingModel(opts: DemoModelOptions): Manifest {
  const example = parse(readFileSync(EXAMPLE, 'utf8')) as Manifest;
  const { storage, storageUrl } = opts;
  const m: Manifest = structuredClone(example);
  m.metadata.namespace = opts.namespace;
  m.spec.model = modelRef(storage.standard.v1, storageUrl);
  m.spec.snapshot = { uri: `${storageUrl}/${storage.standard.snapshotPrefix}`, pollIntervalSeconds: 10 };
  for (const s of m.spec.segments) {
    s.replicas = 1;
    if (s.name === 'shopping') {
      s.model = modelRef(storage.shopping.v1, storageUrl);
      s.snapshot = { uri: `${storageUrl}/${storage.shopping.snapshotPrefix}`, pollIntervalSeconds: 10 };
    }
  }
  m.spec.serving.nodeSelector = { 'kubernetes.io/hostname': opts.nodeName, [GPU_TEST_DOUBLE_LABEL]: 'true' };
  m.spec.serving.resources = { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '2Gi' } };
  delete m.spec.serving.affinity;
  m.spec.rollout = {
    steps: [
      { weight: 20, pauseSeconds: opts.stepSeconds },
      { weight: 50, pauseSeconds: opts.stepSeconds },
      { weight: 100, pauseSeconds: 0 },
    ],
    ...(opts.prometheusUrl
      ? {
          analysis: {
            prometheusAddress: opts.prometheusUrl,
            intervalSeconds: 5,
            maxErrorRate: 0.01,
            maxP99LatencyMs: 500,
            maxScoreDivergence: 0.25,
            minSamples: 80,
          },
        }
      : {}),
    autoRollback: true,
    progressDeadlineSeconds: 300,
  };
  return m;
}

/** The spec patch that publishes standard's v2: new uri, sha256 and version (same fingerprint). */
export function newModelVersion(storage: DemoStorage, storageUrl: string): Record<string, unknown> {
  return { spec: { model: modelRef(storage.standard.v2, storageUrl) } };
}
