// The scoring server's HTTP layer with the scoring taken out, for bench/server-limit.ts: the
// same Fastify app (server/app.ts: its hooks, body parsers, metrics, error handling), whose
// dataplane answers each ranking request with the bytes the real server answered it with,
// recorded beforehand. It still parses the request (the codec's parse: the JSON body through the
// app's parser and the schema, or the binary header); it does no id lookup, no inference and no
// encoding. What it costs per request is the HTTP round trip's share of the server's CPU.
//
//   node --import tsx bench/lib/http-only-server.ts DIR
//     DIR holds req-N.bin / res-N.bin pairs (N = 0, 1, …); prints `port P` once listening on
//     127.0.0.1, and stops on SIGTERM.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../lib/logger.js';
import { buildApp } from '../../server/app.js';
import type { Codec, Dataplane } from '../../server/dataplane.js';
import { ModelRegistry } from '../../server/lifecycle/registry.js';
import { createServerMetrics } from '../../server/metrics.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: http-only-server.ts DIR (req-N.bin / res-N.bin pairs)');

/** A request's identity: its query features (the 16 benchmark requests differ there). */
function keyOf(parsed: unknown): string {
  if (Buffer.isBuffer(parsed)) return parsed.toString('base64', 24, 24 + 64);
  const dense = (parsed as { query: { dense: number[] } }).query.dense;
  return Float32Array.from(dense).join(',');
}

const answers = new Map<string, Buffer>();
for (const f of readdirSync(dir).filter((n) => /^req-\d+\.bin$/.test(n))) {
  const req = readFileSync(join(dir, f));
  const res = readFileSync(join(dir, f.replace('req-', 'res-')));
  const binary = req.readUInt32LE(0) === 0x3151524c; // "LRQ1"
  answers.set(keyOf(binary ? req : JSON.parse(req.toString('utf8'))), res);
}

const limits = { maxCandidates: 10_000, maxInferRows: 1024, maxDenseAbs: 1e6 };
const metrics = createServerMetrics({ model: 'demo', segment: 'bench', track: 'stable' });
const dataplane = {
  limits,
  score<W, P, T>(_name: string, codec: Codec<W, P, T>, wire: W): Promise<T> {
    codec.parse(wire); // the request is still checked as the real server checks it
    const res = answers.get(keyOf(wire));
    if (!res) return Promise.reject(new Error('no recorded answer for this request'));
    return Promise.resolve(res as T);
  },
} as unknown as Dataplane;
const app = buildApp({
  registry: new ModelRegistry('demo'),
  dataplane,
  metrics,
  log: createLogger('http-only', { level: 'warn' }),
  bodyLimitBytes: 64 << 20,
});
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
console.log(`port ${typeof address === 'object' && address ? address.port : 0}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
