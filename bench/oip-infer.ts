// OIP /infer throughput, JSON tensors vs the binary tensor data extension, side by side in one
// run against the real server process on the demo model: the same 16 query-tower requests
// (`--rows` rows each) sent as JSON, as binary inputs with a JSON output, and as binary inputs
// with a binary output. Before measuring, each encoding's answer is checked against the JSON one
// (exactly equal floats). Closed loop, `--concurrency` keep-alive clients on node:http, each
// sending its next request when the previous answers; latencies timed with hrtime (µs), exact
// percentiles. Server CPU per request from /proc/<pid>/stat (10 ms ticks). The generator shares
// the 2 cores with the server, so absolute figures are pessimistic; compare the rows.
//
// Usage: flock /tmp/lightrank-bench.lock npx tsx bench/oip-infer.ts [--rows 16] [--concurrency 8]
//        [--duration-ms 3000]
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateFeatures } from '../modelkit/catalogue.js';
import {
  INFERENCE_HEADER_LENGTH,
  decodeBinaryInferResponse,
  encodeBinaryInferRequest,
} from '../server/oip-binary.js';
import { stageDemo, startServer, waitFor, type ServerProcess } from '../test/server/harness.js';
import { cpuSeconds } from './lib/proc.js';

const { values: flags } = parseArgs({
  options: {
    rows: { type: 'string', default: '16' },
    concurrency: { type: 'string', default: '8' },
    'duration-ms': { type: 'string', default: '3000' },
  },
});
const ROWS = Number(flags.rows);
const CONCURRENCY = Number(flags.concurrency);
const DURATION_MS = Number(flags['duration-ms']);
const REQUESTS = 16;

interface Encoded {
  body: Buffer;
  headers: Record<string, string | number>;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function post(agent: Agent, url: URL, req: Encoded): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { ...req.headers, 'content-length': req.body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/** The query embeddings a reply carries, whichever encoding it came in. */
function queryOf(reply: Reply): number[] {
  if (reply.status !== 200) throw new Error(`HTTP ${reply.status}: ${reply.body.toString()}`);
  const length = reply.headers[INFERENCE_HEADER_LENGTH];
  if (length === undefined) return JSON.parse(reply.body.toString()).outputs[0].data as number[];
  const b = decodeBinaryInferResponse(reply.body, Number(length)).tensors.get('query')!;
  return Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
}

function encode(seed: number, numDense: number, numCategorical: number) {
  const { dense, categorical } = generateFeatures({ numDense, numCategorical }, ROWS, seed);
  const d = { name: 'dense', datatype: 'FP32', shape: [ROWS, numDense] };
  const c = { name: 'categorical', datatype: 'INT64', shape: [ROWS, numCategorical] };
  const json: Encoded = {
    body: Buffer.from(
      JSON.stringify({
        inputs: [
          { ...d, data: Array.from(dense) },
          { ...c, data: Array.from(categorical, Number) },
        ],
      }),
    ),
    headers: { 'content-type': 'application/json' },
  };
  const binary = (binaryOutput: boolean): Encoded => {
    const { body, headerLength } = encodeBinaryInferRequest(
      {
        inputs: [
          { ...d, parameters: { binary_data_size: dense.byteLength } },
          { ...c, parameters: { binary_data_size: categorical.byteLength } },
        ],
        ...(binaryOutput ? { parameters: { binary_data_output: true } } : {}),
      },
      [dense, categorical],
    );
    return {
      body,
      headers: { 'content-type': 'application/octet-stream', [INFERENCE_HEADER_LENGTH]: headerLength },
    };
  };
  return { json, binaryIn: binary(false), binaryInOut: binary(true) };
}

async function closedLoop(server: ServerProcess, url: URL, bodies: Encoded[]) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latUs: number[] = [];
  let next = 0;
  let failed = 0;
  const cpu0 = cpuSeconds(server.proc.pid!);
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(DURATION_MS) * 1_000_000n;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (process.hrtime.bigint() < end) {
        const s = process.hrtime.bigint();
        const reply = await post(agent, url, bodies[next++ % bodies.length]!);
        if (reply.status === 200) latUs.push(Number(process.hrtime.bigint() - s) / 1000);
        else failed++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(server.proc.pid!) - cpu0;
  agent.destroy();
  latUs.sort((a, b) => a - b);
  const pct = (p: number) =>
    latUs[Math.min(latUs.length - 1, Math.ceil((p / 100) * latUs.length) - 1)]! / 1000;
  return {
    reqPerS: latUs.length / seconds,
    p50: pct(50),
    p99: pct(99),
    cpuUsPerReq: (cpu / Math.max(1, latUs.length)) * 1e6,
    failed,
    bytesIn: bodies[0]!.body.length,
  };
}

async function main(): Promise<void> {
  const load = loadavg()[0]!.toFixed(2);
  const root = await mkdtemp(join(tmpdir(), 'lightrank-oip-bench-'));
  let server: ServerProcess | undefined;
  try {
    const staged = await stageDemo(root);
    server = await startServer(['--data-dir', staged.dataDir, '--max-infer-rows', String(Math.max(ROWS, 8))]);
    const s = server;
    await waitFor(async () => (await s.get('/v2/health/ready')).status === 200, 30_000, 'server ready');
    const url = new URL(`${server.url}/v2/models/demo/infer`);
    const { numDense, numCategorical } = staged.bundle.config.query;
    const sets = Array.from({ length: REQUESTS }, (_, i) => encode(i + 1, numDense, numCategorical));
    const check = new Agent({ keepAlive: true });
    for (const s of sets) {
      const want = queryOf(await post(check, url, s.json));
      for (const other of [s.binaryIn, s.binaryInOut]) {
        const got = queryOf(await post(check, url, other));
        if (got.length !== want.length || got.some((v, i) => v !== want[i]))
          throw new Error('binary and JSON answers differ');
      }
    }
    check.destroy();
    console.log(
      `OIP /infer, demo model, ${ROWS} rows/request, closed loop c=${CONCURRENCY}, ${DURATION_MS} ms each, load average ${load} at start`,
    );
    console.log('| encoding | body bytes | req/s | rows/s | p50 ms | p99 ms | server CPU µs/req | failed |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const [name, pick] of [
      ['JSON in, JSON out', (s: (typeof sets)[number]) => s.json],
      ['binary in, JSON out', (s: (typeof sets)[number]) => s.binaryIn],
      ['binary in, binary out', (s: (typeof sets)[number]) => s.binaryInOut],
    ] as const) {
      const r = await closedLoop(server, url, sets.map(pick));
      console.log(
        `| ${name} | ${r.bytesIn} | ${r.reqPerS.toFixed(0)} | ${(r.reqPerS * ROWS).toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuUsPerReq.toFixed(0)} | ${r.failed} |`,
      );
    }
  } finally {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
