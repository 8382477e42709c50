// Traffic for the demo, sent the way a client in the cluster would: to the router Service, whose
// ready endpoints the demo reads from its EndpointSlices (there is no kube-proxy here), with the
// segment header. Ranking requests carry generated query features and candidate ids from the
// segment's snapshot; answers say which track (stable/canary) and model version scored them.
//
// API:
//   new DemoClient({ kubeConfig, namespace, service, model, storage })
//     rank(segment) → RankResult       one request through a ready router pod
//     startLoad(rps) → Load            steady background load over both segments, until stop()
import http from 'node:http';
import { DiscoveryV1Api, type KubeConfig } from '@kubernetes/client-node';
import { endpointTargets, parseAddressMap, type Target } from '../../router/resolve-kubernetes.js';
import { LOCAL_ADDRESS_MAP } from './router-local.js';
import type { DemoStorage } from './storage.js';

export const SEGMENT_HEADER = 'x-lightrank-segment';
const ROUTER_PORT = 8080;
/** candidates per request: enough scores per request for a steady PSI from few requests */
export const CANDIDATES = 32;

export interface RankResult {
  segment: string;
  status: number;
  track: string;
  modelVersion?: string;
  snapshotVersion?: string;
  scores?: Record<string, number[]>;
  candidates: string[];
  error?: string;
}

export interface Load {
  readonly sent: number;
  readonly failed: number;
  /** answers per "segment/track/version" */
  readonly byTrack: Map<string, number>;
  /** failed requests per "segment/track: HTTP status error" */
  readonly errors: Map<string, number>;
  stop(): Promise<void>;
}

export class DemoClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly discovery: DiscoveryV1Api;
  private readonly mapAddress = parseAddressMap(LOCAL_ADDRESS_MAP);
  private targets: Target[] = [];
  private next = 0;
  private refreshedAt = 0;
  private counter = 0;

  constructor(
    private readonly opts: {
      kubeConfig: KubeConfig;
      namespace: string;
      service: string;
      model: string;
      storage: DemoStorage;
    },
  ) {
    this.discovery = opts.kubeConfig.makeApiClient(DiscoveryV1Api);
  }

  /** Ready router endpoints, re-read at most every second. */
  async routerTargets(): Promise<Target[]> {
    if (Date.now() - this.refreshedAt < 1_000 && this.targets.length) return this.targets;
    const { namespace, service } = this.opts;
    const list = await this.discovery.listNamespacedEndpointSlice({
      namespace,
      labelSelector: `kubernetes.io/service-name=${service}`,
    });
    this.targets = endpointTargets(list.items, ROUTER_PORT, this.mapAddress);
    this.refreshedAt = Date.now();
    return this.targets;
  }

  private body(segment: string): { payload: string; candidates: string[] } {
    const { storage } = this.opts;
    const n = this.counter++;
    const ids = segment === 'shopping' ? storage.itemIds.shopping : storage.itemIds.standard;
    const candidates = Array.from({ length: CANDIDATES }, (_, i) => ids[(n * CANDIDATES + i) % ids.length]!);
    const dense = Array.from({ length: storage.query.numDense }, (_, i) => Math.sin(n + i) * 0.5);
    const categorical = Array.from(
      { length: storage.query.numCategorical },
      (_, i) => (n * 31 + i * 7) % 1000,
    );
    return { payload: JSON.stringify({ query: { dense, categorical }, candidates }), candidates };
  }

  async rank(segment: string): Promise<RankResult> {
    let targets: Target[];
    try {
      targets = await this.routerTargets();
    } catch (err) {
      const error = `reading the router's EndpointSlices failed: ${err instanceof Error ? err.message : String(err)}`;
      return { segment, status: 0, track: '', candidates: [], error };
    }
    if (!targets.length)
      return { segment, status: 0, track: '', candidates: [], error: 'no ready router endpoint' };
    const target = targets[this.next++ % targets.length]!;
    const { payload, candidates } = this.body(segment);
    return new Promise<RankResult>((resolve) => {
      const req = http.request(
        {
          agent: this.agent,
          host: target.host,
          port: target.port,
          method: 'POST',
          path: `/v1/models/${this.opts.model}/rank`,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            [SEGMENT_HEADER]: segment,
          },
          timeout: 10_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => {
            const track = String(res.headers['x-lightrank-track'] ?? '');
            let json: {
              modelVersion?: string;
              snapshotVersion?: string;
              scores?: Record<string, number[]>;
            } & Record<string, unknown> = {};
            try {
              json = JSON.parse(text) as typeof json;
            } catch {
              // reported below as the raw text
            }
            resolve({
              segment,
              status: res.statusCode ?? 0,
              track,
              candidates,
              ...(json.modelVersion ? { modelVersion: json.modelVersion } : {}),
              ...(json.snapshotVersion ? { snapshotVersion: json.snapshotVersion } : {}),
              ...(json.scores ? { scores: json.scores } : {}),
              ...(res.statusCode !== 200 ? { error: text.slice(0, 300) } : {}),
            });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
      req.on('error', (err) =>
        resolve({
          segment,
          status: 0,
          track: '',
          candidates,
          error: `${target.host}:${target.port}: ${err.message}`,
        }),
      );
      req.end(payload);
    });
  }

  /** Steady load of about `rps` requests a second, alternating segments, until stop(). */
  startLoad(rps: number, segments: string[]): Load {
    let stopped = false;
    const byTrack = new Map<string, number>();
    const errors = new Map<string, number>();
    const state = { sent: 0, failed: 0 };
    const loop = (async () => {
      while (!stopped) {
        const started = Date.now();
        const batch = Math.max(1, Math.round(rps / 5));
        const results = await Promise.all(
          Array.from({ length: batch }, (_, i) => this.rank(segments[(state.sent + i) % segments.length]!)),
        );
        for (const r of results) {
          state.sent++;
          if (r.status !== 200) {
            state.failed++;
            const key = `${r.segment}/${r.track || '-'}: HTTP ${r.status} ${(r.error ?? '').slice(0, 160)}`;
            errors.set(key, (errors.get(key) ?? 0) + 1);
          } else {
            const key = `${r.segment}/${r.track}/${r.modelVersion ?? '?'}`;
            byTrack.set(key, (byTrack.get(key) ?? 0) + 1);
          }
        }
        const wait = 200 - (Date.now() - started);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
    return {
      get sent() {
        return state.sent;
      },
      get failed() {
        return state.failed;
      },
      byTrack,
      errors,
      stop: async () => {
        stopped = true;
        await loop;
      },
    };
  }

  close(): void {
    this.agent.destroy();
  }
}
