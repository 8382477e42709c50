// The demo's model storage: real query towers and embedding snapshots from the model kit, one pair
// per segment (standard, shopping), plus a second query tower for standard (v2: v1's query weights
// fine-tuned, same item tower, so it keeps the snapshot's fingerprint), laid out like a bucket and
// served by a plain read-only HTTP file server on 127.0.0.1, which the sync sidecars fetch from
// (the sidecar's `http://` source).
//
// API:
//   buildDemoStorage(dir) → DemoStorage        (models, snapshots, sha256s on disk)
//   serveDirectory(dir) → FileServer          { url, close() }
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';
import { buildItemSnapshot, buildTowers } from '../../modelkit/bundle.js';
import { generateItemIds } from '../../modelkit/catalogue.js';
import { modelConfig } from '../../modelkit/config.js';
import { buildTowerModel } from '../../modelkit/tower-graph.js';
import { generateTowerWeights, mulberry32 } from '../../modelkit/weights.js';

export interface StoredModel {
  /** path under the storage root, e.g. standard/v1/query.onnx */
  path: string;
  sha256: string;
  version: string;
  fingerprint: string;
  tasks: string[];
}

export interface DemoStorage {
  root: string;
  standard: { v1: StoredModel; v2: StoredModel; snapshotPrefix: string };
  shopping: { v1: StoredModel; snapshotPrefix: string };
  /** item ids of each snapshot's catalogue (the first 200), as decimal strings */
  itemIds: { standard: string[]; shopping: string[] };
  /** query feature widths of the towers */
  query: { numDense: number; numCategorical: number };
}

const ITEMS = 5_000;
/** relative change of each weight from v1 to v2 of the standard query tower */
const FINE_TUNE = 0.02;

/** A copy of `w` with every weight scaled by a seeded factor in [1 - FINE_TUNE, 1 + FINE_TUNE]. */
function fineTuned<T>(w: T, seed: number): T {
  const rand = mulberry32(seed);
  const walk = (v: unknown): unknown => {
    if (v instanceof Float32Array) return v.map((x) => x * (1 + (rand() * 2 - 1) * FINE_TUNE));
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(w) as T;
}
const SNAPSHOT_VERSION = 'snap-1';

async function buildSegment(
  root: string,
  segment: string,
  seed: number,
): Promise<{ v1: StoredModel; snapshotPrefix: string; ids: string[]; itemModel: string }> {
  const config = modelConfig({ seed });
  const towers = await buildTowers({ dir: join(root, segment, 'v1'), config });
  const prefix = join(root, 'snapshots', segment);
  await buildItemSnapshot({
    itemModel: towers.itemModel,
    prefix,
    version: SNAPSHOT_VERSION,
    items: ITEMS,
    seed,
  });
  const ids = [...generateItemIds(ITEMS, seed).subarray(0, 200)].map(String);
  return {
    v1: {
      path: `${segment}/v1/query.onnx`,
      sha256: towers.querySha256,
      version: 'v1',
      fingerprint: towers.fingerprint,
      tasks: config.tasks,
    },
    snapshotPrefix: `snapshots/${segment}`,
    ids,
    itemModel: towers.itemModel,
  };
}

export async function buildDemoStorage(root: string): Promise<DemoStorage> {
  await mkdir(root, { recursive: true });
  const standard = await buildSegment(root, 'standard', 42);
  const shopping = await buildSegment(root, 'shopping', 7);
  // v2 of standard: v1's query tower fine-tuned (every weight moved by up to ±FINE_TUNE), paired with
  // the same item tower, so it keeps the snapshot's fingerprint and a close score distribution.
  const config = modelConfig({ seed: 42 });
  const bytes = buildTowerModel(
    fineTuned(generateTowerWeights(config, 'query'), 4242),
    standard.v1.fingerprint,
  );
  const v2Path = 'standard/v2/query.onnx';
  await mkdir(join(root, 'standard', 'v2'), { recursive: true });
  await writeFile(join(root, v2Path), bytes);
  return {
    root,
    standard: {
      v1: standard.v1,
      v2: {
        ...standard.v1,
        path: v2Path,
        version: 'v2',
        sha256: createHash('sha256').update(bytes).digest('hex'),
      },
      snapshotPrefix: standard.snapshotPrefix,
    },
    shopping: { v1: shopping.v1, snapshotPrefix: shopping.snapshotPrefix },
    itemIds: { standard: standard.ids, shopping: shopping.ids },
    query: { numDense: config.query.numDense, numCategorical: config.query.numCategorical },
  };
}

export interface FileServer {
  url: string;
  /** requests answered, by path */
  readonly served: Map<string, number>;
  close(): Promise<void>;
}

/** Serves `root` read-only over HTTP GET/HEAD on 127.0.0.1 (a free port); 404 for anything outside it. */
export async function serveDirectory(root: string): Promise<FileServer> {
  const base = normalize(root + sep);
  const served = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(base, path));
    const notFound = (): void => {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
    };
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !file.startsWith(base)) return notFound();
    stat(file).then(
      (st) => {
        if (!st.isFile()) return notFound();
        served.set(path, (served.get(path) ?? 0) + 1);
        res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' });
        if (req.method === 'HEAD') return void res.end();
        createReadStream(file).pipe(res);
      },
      () => notFound(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
