// The ranking endpoint's binary encoding against the real server process: scores equal the JSON
// path's (and the JSON path's equal the reference math, api.test.ts), unknown ids reported by
// position, and malformed bodies answered 400 naming the field while the process stays healthy.
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateFeatures } from '../../modelkit/catalogue.js';
import type { Snapshot } from '../../snapshot/index.js';
import { RANK_BINARY_TYPE, decodeRankBinaryResponse, encodeRankBinaryRequest } from '../../server/binary.js';
import { serveDemo } from './fixture.js';
import type { ServerProcess, Staged } from './harness.js';

const MAX_CANDIDATES = 3000;
const PATH = '/v1/models/bin/rank';

const demo = serveDemo(
  'lightrank-binary-',
  ['--model-name', 'bin', '--max-candidates', String(MAX_CANDIDATES)],
  {
    loadEmbeddings: false,
  },
);
let staged: Staged;
let server: ServerProcess;
let snapshot: Snapshot;
beforeAll(() => void ({ staged, server, snapshot } = demo));

function query(seed: number) {
  const cfg = staged.bundle.config.query;
  return generateFeatures({ numDense: cfg.numDense, numCategorical: cfg.numCategorical }, 1, seed);
}

async function postBinary(body: Uint8Array): Promise<{ status: number; type: string | null; body: Buffer }> {
  const res = await fetch(server.url + PATH, {
    method: 'POST',
    headers: { 'content-type': RANK_BINARY_TYPE },
    body,
  });
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: Buffer.from(await res.arrayBuffer()),
  };
}

describe('binary ranking', () => {
  it('scores exactly like the JSON path, unknown ids reported by position (NaN scores)', async () => {
    const { dense, categorical } = query(21);
    const known = Array.from({ length: 500 }, (_, i) => snapshot.ids[(i * 13) % snapshot.rows]!);
    const ids = [...known.slice(0, 7), 12345n, ...known.slice(7), 2n ** 64n - 1n];
    const json = await server.post(PATH, {
      query: { dense: Array.from(dense), categorical: Array.from(categorical, Number) },
      candidates: ids.map(String),
    });
    expect(json.status).toBe(200);
    const res = await postBinary(encodeRankBinaryRequest(dense, categorical, BigUint64Array.from(ids)));
    expect(res.status).toBe(200);
    expect(res.type).toContain(RANK_BINARY_TYPE);
    const bin = decodeRankBinaryResponse(res.body);
    expect(bin.model).toBe('bin');
    expect(bin.modelVersion).toBe(json.body.modelVersion);
    expect(bin.snapshotVersion).toBe(json.body.snapshotVersion);
    expect(bin.tasks).toEqual(json.body.tasks);
    expect(bin.unknownPositions).toEqual([7, ids.length - 1]);
    expect(json.body.unknownIds).toEqual(['12345', String(2n ** 64n - 1n)]);
    bin.tasks.forEach((task, t) => {
      const expected = json.body.scores[task] as (number | null)[];
      expect(bin.scores[t]!.length).toBe(ids.length);
      expected.forEach((s, i) => {
        if (s === null) expect(bin.scores[t]![i]).toBeNaN();
        else expect(Math.abs(bin.scores[t]![i]! - s)).toBeLessThanOrEqual(5e-10); // JSON rounds to 9 decimals
      });
    });
  });

  it('answers a request whose ids are all unknown without scoring', async () => {
    const { dense, categorical } = query(3);
    const res = await postBinary(encodeRankBinaryRequest(dense, categorical, BigUint64Array.from([1n, 2n])));
    expect(res.status).toBe(200);
    const bin = decodeRankBinaryResponse(res.body);
    expect(bin.unknownPositions).toEqual([0, 1]);
    for (const s of bin.scores) expect(Array.from(s).every(Number.isNaN)).toBe(true);
  });
});

describe('malformed binary bodies', () => {
  const { dense, categorical } = generateFeatures({ numDense: 16, numCategorical: 4 }, 1, 5);
  // The demo model has 16 dense and 4 categorical features (checked below against the bundle).
  const good = (): Buffer => encodeRankBinaryRequest(dense, categorical, BigUint64Array.from([1n, 2n, 3n]));
  const patch = (at: number, value: number): Buffer => {
    const b = good();
    b.writeUInt32LE(value, at);
    return b;
  };
  const cases: [string, () => Uint8Array, string][] = [
    ['empty', () => new Uint8Array(0), 'body'],
    ['shorter than the header', () => good().subarray(0, 20), 'body'],
    ['bad magic', () => patch(0, 0x4a534f4e), 'magic'],
    ['unsupported version', () => patch(4, 2), 'version'],
    ['truncated candidates', () => good().subarray(0, good().length - 4), 'body'],
    ['trailing bytes', () => Buffer.concat([good(), Buffer.alloc(8)]), 'body'],
    ['candidate count larger than the body', () => patch(16, 4), 'body'],
    ['zero candidates', () => patch(16, 0), 'numCandidates'],
    ['too many candidates', () => patch(16, MAX_CANDIDATES + 1), 'numCandidates'],
    ['huge dense width', () => patch(8, 0xffffffff), 'numDense'],
    ['reserved word set', () => patch(20, 1), 'reserved'],
    // 15 dense floats: the lengths add up, but the model wants 16
    [
      'dense width the model does not have',
      () => encodeRankBinaryRequest(dense.subarray(0, 14), categorical, BigUint64Array.from([1n])),
      'numDense',
    ],
    [
      'categorical width the model does not have',
      () => encodeRankBinaryRequest(dense, categorical.subarray(0, 3), BigUint64Array.from([1n])),
      'numCategorical',
    ],
    [
      'non-finite dense value',
      () => {
        const d = dense.slice();
        d[3] = Infinity;
        return encodeRankBinaryRequest(d, categorical, BigUint64Array.from([1n]));
      },
      'query.dense[3]',
    ],
    [
      'odd dense width with non-zero padding (misaligned sections)',
      () => {
        const b = encodeRankBinaryRequest(dense.subarray(0, 15), categorical, BigUint64Array.from([1n]));
        b[24 + 15 * 4] = 1;
        return b;
      },
      'padding',
    ],
  ];

  it('the demo model has the widths these cases assume', () => {
    expect(staged.bundle.config.query.numDense).toBe(16);
    expect(staged.bundle.config.query.numCategorical).toBe(4);
  });

  it.each(cases)('%s → 400 naming the field', async (_name, body, field) => {
    const res = await postBinary(body());
    expect(res.status).toBe(400);
    const err = JSON.parse(res.body.toString());
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.field).toBe(field);
    expect(err.error).toContain(field);
  });

  it('a body on a misaligned offset (1-byte sliced) decodes the same', async () => {
    const backing = Buffer.alloc(good().length + 1);
    good().copy(backing, 1);
    const res = await postBinary(backing.subarray(1));
    expect(res.status).toBe(200);
    expect(decodeRankBinaryResponse(res.body).unknownPositions).toEqual([0, 1, 2]);
  });

  it('a Content-Length shorter than the counts imply (raw socket) → 400 on the length', async () => {
    const body = good();
    const text = await new Promise<string>((resolve, reject) => {
      const s = connect(server.port, '127.0.0.1');
      let got = '';
      s.on('data', (c) => (got += c.toString()));
      s.on('close', () => resolve(got));
      s.on('error', reject);
      s.write(
        `POST ${PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: ${RANK_BINARY_TYPE}\r\n` +
          `Content-Length: ${body.length - 8}\r\nConnection: close\r\n\r\n`,
      );
      s.end(body.subarray(0, body.length - 8)); // what the declared length covers
    });
    expect(text.startsWith('HTTP/1.1 400')).toBe(true);
    expect(text).toContain('"field":"body"');
  });

  it('the binary type is refused on the JSON-only infer endpoint; unknown types stay 415', async () => {
    const infer = await fetch(`${server.url}/v2/models/bin/infer`, {
      method: 'POST',
      headers: { 'content-type': RANK_BINARY_TYPE },
      body: good(),
    });
    expect(infer.status).toBe(400);
    const other = await fetch(server.url + PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: good(),
    });
    expect(other.status).toBe(415);
    expect(((await other.json()) as { error: string }).error).toContain(RANK_BINARY_TYPE);
  });

  it('the process is unharmed: still healthy and scoring', async () => {
    expect((await server.get('/v2/health/ready')).status).toBe(200);
    const res = await postBinary(good());
    expect(res.status).toBe(200);
    expect(server.proc.exitCode).toBeNull();
  });
});
