// What the item-tower build tests share: the S3 test server with a bucket holding the model kit's
// item tower and a Parquet catalogue, a local node agent (pods as processes) on a tainted node of
// its own, and the operator in process for the test's namespace. `useEmbedCluster` registers the
// set-up and tear-down with vitest, as `useTestNamespace` does; the fields are read inside tests.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { startNodeAgent, type NodeAgent } from '../../agent/agent.js';
import { API_GROUP, API_VERSION, PLURAL, type RankingModelStatus } from '../../api/rankingmodel.js';
import { buildTowers, type TowerFiles } from '../../modelkit/bundle.js';
import { writeParquetCatalogue } from '../../modelkit/catalogue-parquet.js';
import type { ModelKitConfig } from '../../modelkit/config.js';
import { startInProcessOperator, type InProcessOperator } from '../../operator/testing.js';
import type { KubeObject } from '../../operator/runtime/kube/types.js';
import { putFile } from '../sidecar/helpers/s3-publish.js';
import { startS3Server, type S3Server } from '../sidecar/helpers/s3-server.js';
import { clients, clusterInfo, waitFor } from '../harness/cluster.js';

export interface EmbedClusterOptions {
  /** names the node, its taint's value and the run folder */
  name: string;
  bucket: string;
  config: ModelKitConfig;
  /** the catalogue uploaded under s3://bucket/catalogue/ */
  catalogue: { items: number; seed: number; files: number; rowGroupSize: number };
}

export interface EmbedCluster {
  readonly runDir: string;
  readonly s3: S3Server;
  readonly towers: TowerFiles;
  /** the item tower's sha256, uploaded to s3://bucket/towers/item.onnx */
  readonly itemSha256: string;
  /** node selector and toleration that put a pod on the agent's node */
  /** the kit's query tower (file://) with the item tower on S3, as a RankingModel's `model` */
  towerPair(): {
    uri: string;
    sha256: string;
    version: string;
    towerFingerprint: string;
    tasks: string[];
    itemTower: { uri: string; sha256: string };
  };
  readonly placement: {
    nodeSelector: Record<string, string>;
    tolerations: { key: string; operator: 'Exists'; effect: 'NoSchedule' }[];
  };
}

export const sha256Of = async (file: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

export function useEmbedCluster(ns: { readonly name: string }, opts: EmbedClusterOptions): EmbedCluster {
  const node = `lightrank-${opts.name}-${randomBytes(3).toString('hex')}`;
  const taint = { key: 'lightrank.dev/local-node-agent', value: opts.name, effect: 'NoSchedule' };
  const placement: EmbedCluster['placement'] = {
    nodeSelector: { 'kubernetes.io/hostname': node },
    tolerations: [{ key: taint.key, operator: 'Exists', effect: 'NoSchedule' }],
  };
  let runDir: string | undefined;
  let s3: S3Server | undefined;
  let towers: TowerFiles | undefined;
  let itemSha256: string | undefined;
  let agent: NodeAgent | undefined;
  let operator: InProcessOperator | undefined;
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined)
      throw new Error(`the embed cluster's ${what} is not set up (read it inside a test)`);
    return value;
  };

  beforeAll(async () => {
    runDir = mkdtempSync(join(tmpdir(), `lightrank-${opts.name}-`));
    s3 = await startS3Server();
    await s3.createBucket(opts.bucket);
    towers = await buildTowers({ dir: join(runDir, 'model'), config: opts.config });
    itemSha256 = await sha256Of(towers.itemModel);
    await putFile(s3.client, opts.bucket, 'towers/item.onnx', towers.itemModel);
    const files = await writeParquetCatalogue({
      dir: join(runDir, 'catalogue'),
      shape: { numDense: opts.config.item.numDense, numCategorical: opts.config.item.numCategorical },
      ...opts.catalogue,
    });
    for (const f of files) await putFile(s3.client, opts.bucket, `catalogue/${f.split('/').pop()}`, f);
    agent = await startNodeAgent({
      kubeConfig: clients().kc,
      nodeName: node,
      runDir: join(runDir, 'agent'),
      taints: [taint],
      podKubeconfig: clusterInfo().kubeconfigPath,
      deleteNodeOnStop: true,
      shutdownGraceMs: 3_000,
    });
    await waitFor(
      `node ${node} Ready`,
      async () => {
        const n = await clients().core.readNode({ name: node });
        const isReady = n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        const tainted = (n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
        return isReady && !tainted;
      },
      { timeoutMs: 60_000 },
    );
    operator = await startInProcessOperator(clusterInfo().kubeconfigPath, ns.name, {
      serverImage: 'registry.test/lightrank-server:1',
      sidecarImage: 'registry.test/lightrank-server:1',
    });
  }, 300_000);

  afterAll(async () => {
    await operator?.stop();
    await agent?.stop();
    await s3?.stop();
    if (runDir) rmSync(runDir, { recursive: true, force: true });
  });

  return {
    get runDir() {
      return ready(runDir, 'run folder');
    },
    get s3() {
      return ready(s3, 'S3 server');
    },
    get towers() {
      return ready(towers, 'towers');
    },
    get itemSha256() {
      return ready(itemSha256, 'item tower');
    },
    towerPair() {
      const t = ready(towers, 'towers');
      return {
        uri: pathToFileURL(t.queryModel).href,
        sha256: t.querySha256,
        version: 'v1',
        towerFingerprint: t.fingerprint,
        tasks: [...opts.config.tasks],
        itemTower: { uri: `s3://${opts.bucket}/towers/item.onnx`, sha256: ready(itemSha256, 'item tower') },
      };
    },
    placement,
  };
}

/** Creates the RankingModel `body` in `namespace`. */
export async function createModel(namespace: string, body: KubeObject): Promise<void> {
  await clients().custom.createNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    namespace,
    plural: PLURAL,
    body,
  });
}

export async function modelStatus(namespace: string, name: string): Promise<RankingModelStatus | undefined> {
  const obj = (await clients().custom.getNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    namespace,
    plural: PLURAL,
    name,
  })) as { status?: RankingModelStatus };
  return obj.status;
}

/** The status of segment `segment`'s snapshot build. */
export const snapshotBuildOf = async (namespace: string, name: string, segment = 'main') =>
  (await modelStatus(namespace, name))?.segments?.find((s) => s.name === segment)?.snapshotBuild;
