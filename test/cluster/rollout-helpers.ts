// Helpers of the rollout and routing cluster tests (test/cluster/rollout-*.test.ts,
// routing-*.test.ts): a RankingModel spec with short steps and an analysis pointed at a
// Prometheus (usually the test double in test/prometheus/fake-prometheus.ts), reads and merge
// patches through the operator's own client, a status poller that records a timeline of the
// rollout, and the Events of a model.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { cachedBinaries } from '../harness/binaries.js';
import { KIND, type RankingModelSpecInput, type SegmentStatus } from '../../api/rankingmodel.js';
import { twoSegmentSpec } from '../../api/testing.js';
import { KubeClient } from '../../operator/runtime/kube/client.js';
import type { KubeObject, ResourceRef } from '../../operator/runtime/kube/types.js';
import { RANKING_MODELS } from '../../operator/reconciler.js';
import {
  rankingModel,
  startInProcessOperator,
  testClient,
  type InProcessOperator,
} from '../../operator/testing.js';
import { clusterInfo, useTestNamespace, waitFor } from '../harness/cluster.js';
import { healthy, startFakePrometheus, type FakePrometheus } from '../prometheus/fake-prometheus.js';

export const IMAGE = 'registry.test/lightrank-server:1';
export const SCALE_DOWN_DELAY_SECONDS = 2;

/**
 * The setup every rollout/routing test file shares: its own namespace, an in-process operator
 * scoped to it (server and sidecar images = IMAGE) and a Prometheus test double answering
 * "healthy" for both tracks (tests re-script it). Fields are set in beforeAll.
 */
export function useRolloutFixture(prefix: string, operatorOptions: { routerImage?: string } = {}) {
  const ns = useTestNamespace(prefix);
  const fx = { ns } as { ns: typeof ns; op: InProcessOperator; prom: FakePrometheus; models: Models };
  beforeAll(async () => {
    fx.prom = await startFakePrometheus({ canary: healthy(), stable: healthy() });
    fx.models = new Models(ns.name);
    fx.op = await startInProcessOperator(clusterInfo().kubeconfigPath, ns.name, {
      serverImage: IMAGE,
      sidecarImage: IMAGE,
      ...operatorOptions,
    });
  });
  afterAll(async () => {
    await fx.op?.stop();
    await fx.prom?.close();
  });
  return fx;
}

export type Model = KubeObject & {
  spec: Record<string, unknown>;
  status?: {
    phase?: string;
    rolloutPhase?: string;
    modelVersion?: string;
    conditions?: { type: string; status: string; reason: string; message: string }[];
    segments?: SegmentStatus[];
  };
};

/**
 * Two segments on CPU (no GPU budget in the way), three short steps, analysis every 5 s, a
 * finished rollout's canary kept 2 s (scaleDownDelaySeconds).
 */
export function rolloutSpec(
  prometheusAddress: string,
  over: Partial<RankingModelSpecInput> = {},
): RankingModelSpecInput {
  return {
    ...twoSegmentSpec(),
    serving: { executionProvider: 'cpu' },
    rollout: {
      steps: [
        { weight: 20, pauseSeconds: 2 },
        { weight: 50, pauseSeconds: 2 },
        { weight: 100, pauseSeconds: 0 },
      ],
      analysis: { prometheusAddress, intervalSeconds: 5, minSamples: 50 },
      progressDeadlineSeconds: 30,
      scaleDownDelaySeconds: SCALE_DOWN_DELAY_SECONDS,
    },
    ...over,
  };
}

export class Models {
  readonly client: KubeClient = testClient(clusterInfo().kubeconfigPath);

  constructor(readonly namespace: string) {}

  async create(name: string, spec: RankingModelSpecInput): Promise<Model> {
    return this.client.create(RANKING_MODELS, rankingModel(name, this.namespace, spec)) as Promise<Model>;
  }

  get(name: string): Promise<Model> {
    return this.client.get<Model>(RANKING_MODELS, this.namespace, name);
  }

  async patch(name: string, patch: Record<string, unknown>): Promise<void> {
    await this.client.request({
      verb: 'patch',
      kind: KIND,
      method: 'PATCH',
      path: KubeClient.path(RANKING_MODELS, this.namespace, name),
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  }

  /** Changes the standard segment's model version (the default model): a rollout starts. */
  async setVersion(name: string, version: string): Promise<void> {
    const m = await this.get(name);
    const model = {
      ...(m.spec.model as Record<string, unknown>),
      version,
      uri: `s3://models/ranker/${version}/query.onnx`,
    };
    await this.patch(name, { spec: { model } });
  }

  async annotate(name: string, annotations: Record<string, string | null>): Promise<void> {
    await this.patch(name, { metadata: { annotations } });
  }

  async segment(name: string, segment: string): Promise<SegmentStatus | undefined> {
    return (await this.get(name)).status?.segments?.find((s) => s.name === segment);
  }

  /** Polls until `probe(model)` holds; returns the model. */
  async waitFor(
    name: string,
    what: string,
    probe: (m: Model) => boolean,
    timeoutMs = 60_000,
  ): Promise<Model> {
    let last: Model | undefined;
    return waitFor(
      `${what} (RankingModel ${name})`,
      async () => {
        last = await this.get(name);
        if (probe(last)) return last;
        throw new Error(`status: ${JSON.stringify(last.status?.segments ?? last.status ?? {})}`);
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  async events(name: string): Promise<{ reason: string; message: string; type: string }[]> {
    const list = await this.client.request<{
      items: { reason: string; message: string; type: string; involvedObject: { name: string } }[];
    }>({
      verb: 'list',
      kind: 'Event',
      method: 'GET',
      path: `/api/v1/namespaces/${this.namespace}/events`,
      query: { fieldSelector: `involvedObject.name=${name}` },
    });
    return list.items;
  }

  /**
   * The canary Deployment of a finished rollout is removed, and its scale-down time then cleared
   * from status. Returns the time (ms) the removal was first seen.
   */
  async canaryRemoved(model: string, segment: string): Promise<number> {
    const seen = await waitFor(`${model}-${segment}-canary removed`, async () =>
      (await this.deployment(`${model}-${segment}-canary`)) ? false : Date.now(),
    );
    await this.waitFor(
      model,
      'canaryScaleDownAt cleared',
      (m) => m.status?.segments?.find((s) => s.name === segment)?.canaryScaleDownAt === undefined,
    );
    return seen;
  }

  async deployment(name: string): Promise<(KubeObject & { spec: Record<string, unknown> }) | undefined> {
    try {
      return await this.client.get<KubeObject & { spec: Record<string, unknown> }>(
        { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' },
        this.namespace,
        name,
      );
    } catch {
      return undefined;
    }
  }
}

/** The env value of the sync container of a Deployment (what model version it runs). */
export function syncEnv(d: KubeObject | undefined, key: string): string | undefined {
  const spec = d?.spec as
    | { template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } } }
    | undefined;
  return spec?.template.spec.containers.find((c) => c.name === 'sync')?.env?.find((e) => e.name === key)
    ?.value;
}

export function condition(m: Model, type: string) {
  return m.status?.conditions?.find((c) => c.type === type);
}

/** Records each change of a segment's rollout state with its time, from a poll every 200 ms. */
export class Timeline {
  readonly entries: { t: number; state: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly start = Date.now();

  constructor(
    private readonly models: Models,
    private readonly name: string,
    private readonly segment: string,
  ) {}

  begin(): void {
    const tick = async () => {
      try {
        const m = await this.models.get(this.name);
        const s = m.status?.segments?.find((x) => x.name === this.segment);
        const state = s
          ? `${s.rolloutPhase} step=${s.rolloutStep ?? '-'} weight=${s.canaryWeight} stable=${s.stableVersion} canary=${s.canaryVersion ?? '-'} analysis=${s.lastAnalysis?.result ?? '-'}`
          : 'no status';
        if (this.entries.at(-1)?.state !== state) this.entries.push({ t: Date.now() - this.start, state });
      } catch {
        // a failed read is a gap in the timeline, nothing more
      }
      if (this.timer) this.timer = setTimeout(tick, 200);
    };
    this.timer = setTimeout(tick, 0);
  }

  stop(): string {
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.entries.map((e) => `+${(e.t / 1000).toFixed(1)}s ${e.state}`).join('\n');
  }
}

/** One version of an object as a watch delivered it. */
export interface Version<T extends KubeObject = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rv: bigint;
  object: T;
}

/**
 * Every version of the objects of one kind (in the namespace, by name) from a watch — a poll
 * misses a version that lives 100 ms. Etcd's revision is one counter over every key, so the
 * resourceVersions of different kinds order their writes (the control plane in a box has one
 * etcd): "the canary was Ready before the table gave it the weight" is a comparison of two.
 */
export class Recorder<T extends KubeObject = KubeObject> {
  readonly versions: Version<T>[] = [];
  private handle: { stop(): void } | undefined;
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly ref: ResourceRef,
    private readonly namespace: string,
    private readonly names: (name: string) => boolean,
  ) {}

  async start(): Promise<this> {
    const list = await this.client.list<T>(this.ref, this.namespace);
    for (const o of list.items.filter((x) => this.names(x.metadata.name)))
      this.versions.push({ type: 'ADDED', rv: BigInt(o.metadata.resourceVersion!), object: o });
    await this.watch(list.metadata.resourceVersion!);
    return this;
  }

  private async watch(from: string): Promise<void> {
    let last = from;
    const handle = await this.client.watch(this.ref, this.namespace, { resourceVersion: from }, (ev) => {
      if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') return;
      last = ev.object.metadata.resourceVersion ?? last;
      if (!this.names(ev.object.metadata.name)) return;
      this.versions.push({ type: ev.type, rv: BigInt(last), object: ev.object as T });
    });
    this.handle = handle;
    // the server ends a watch now and then: carry on from the last version seen
    void handle.done.then(
      () => (this.stopped ? undefined : this.watch(last)),
      () => undefined,
    );
  }

  stop(): Version<T>[] {
    this.stopped = true;
    this.handle?.stop();
    return this.versions;
  }

  /** The last version written before revision `rv` (undefined: none, or deleted). */
  before(rv: bigint): T | undefined {
    const earlier = this.versions.filter((v) => v.rv < rv).at(-1);
    return earlier && earlier.type !== 'DELETED' ? earlier.object : undefined;
  }
}

/** A sequence without its consecutive repeats: [0, 0, 20, 20, 50] → [0, 20, 50]. */
export function changes<T>(values: readonly T[]): T[] {
  return values.filter((v, i) => i === 0 || v !== values[i - 1]);
}

/** kubectl from the control-plane cache, against the test cluster; its stdout. */
export async function kubectl(...args: string[]): Promise<string> {
  const bin = cachedBinaries()?.kubectl;
  if (!bin) throw new Error('kubectl is not in the control-plane cache (run scripts/build-control-plane.sh)');
  const { stdout } = await promisify(execFile)(bin, ['--kubeconfig', clusterInfo().kubeconfigPath, ...args]);
  return stdout;
}

/** `kubectl get` output as rows of cells keyed by the header (columns split on 2+ spaces). */
export function table(out: string): Record<string, string>[] {
  const [header, ...rows] = out.trimEnd().split('\n');
  const starts: [string, number][] = [];
  for (const m of header!.matchAll(/\S+/g)) starts.push([m[0], m.index]);
  return rows.map((row) =>
    Object.fromEntries(
      starts.map(([name, at], i) => [name, row.slice(at, starts[i + 1]?.[1] ?? row.length).trim()]),
    ),
  );
}
