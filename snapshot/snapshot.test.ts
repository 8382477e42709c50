import { mkdtemp, readFile, rm, truncate, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EMBEDDINGS_FILE,
  IDS_FILE,
  MANIFEST_FILE,
  SnapshotError,
  SnapshotWriter,
  float16ToFloat32,
  float32ToFloat16,
  openSnapshot,
  validateSnapshot,
  writeLatest,
  writeSnapshot,
  type EmbeddingDtype,
  type SnapshotErrorCause,
} from './index.js';

const TASKS = ['ctr', 'good_click'];
const DIM = 8;
const FP = 'fp-test-1';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-snapshot-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
function sample(rows: number) {
  const ids = new BigUint64Array(rows);
  for (let i = 0; i < rows; i++) ids[i] = (BigInt(i) * 0x9e3779b97f4a7c15n + 0xabcdefn) & 0xffffffffffffffffn;
  const embeddings = new Float32Array(rows * TASKS.length * DIM).map((_, i) => Math.sin(i * 0.37));
  return { ids, embeddings };
}

async function make(dtype: EmbeddingDtype = 'float32', rows = 50): Promise<string> {
  const dir = join(root, `s${counter++}`);
  await writeSnapshot(dir, {
    snapshotVersion: 'v1',
    towerFingerprint: FP,
    tasks: TASKS,
    dim: DIM,
    dtype,
    ...sample(rows),
  });
  return dir;
}

async function editManifest(dir: string, edit: (m: Record<string, unknown>) => void): Promise<void> {
  const m = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
  edit(m);
  await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(m));
}

async function refusal(dir: string, opts: { expectedFingerprint?: string } = {}): Promise<SnapshotError[]> {
  const errors: SnapshotError[] = [];
  for (const run of [() => validateSnapshot(dir, opts), () => openSnapshot(dir, opts)]) {
    const e = await run().then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(SnapshotError);
    errors.push(e as SnapshotError);
  }
  return errors;
}

async function expectRefused(dir: string, cause: SnapshotErrorCause, mentions: RegExp, opts = {}) {
  for (const e of await refusal(dir, opts)) {
    expect(e.cause).toBe(cause);
    expect(e.message).toMatch(mentions);
  }
}

describe('snapshot writer and reader', () => {
  it('round-trips float32 and looks ids up, unknown ids → -1', async () => {
    const dir = await make('float32', 200);
    const { ids, embeddings } = sample(200);
    const m = await validateSnapshot(dir, { expectedFingerprint: FP });
    expect(m).toMatchObject({ formatVersion: 1, rows: 200, dim: DIM, tasks: TASKS, dtype: 'float32' });
    expect(m.files[EMBEDDINGS_FILE]!.bytes).toBe(200 * 2 * DIM * 4);
    const s = await openSnapshot(dir, { expectedFingerprint: FP });
    expect(s.embeddings).toEqual(embeddings);
    const query = new BigUint64Array([ids[17]!, 12345n, ids[0]!, ids[199]!, 0xffffffffffffffffn]);
    expect(Array.from(s.lookup(query))).toEqual([17, -1, 0, 199, -1]);
    expect(Array.from(s.lookup([ids[3]!, -1n, 2n ** 64n]))).toEqual([3, -1, -1]);
    expect(s.index.rowOf(ids[42]!)).toBe(42);
    expect(Array.from(s.vector(5, 1))).toEqual(
      Array.from(embeddings.subarray((5 * 2 + 1) * DIM, (5 * 2 + 2) * DIM)),
    );
  });

  it('stores float16 as float16 and converts on read', async () => {
    const dir = await make('float16', 30);
    const { embeddings } = sample(30);
    const s = await openSnapshot(dir);
    expect(s.embeddings).toBeInstanceOf(Uint16Array);
    expect(s.embeddings).toEqual(float32ToFloat16(embeddings));
    expect(s.vector(2, 0)).toEqual(
      float16ToFloat32(float32ToFloat16(embeddings.subarray(2 * 2 * DIM, 2 * 2 * DIM + DIM))),
    );
  });

  it('streams batches and can skip loading the matrix', async () => {
    const dir = join(root, 'streamed');
    const w = await SnapshotWriter.create(dir, {
      snapshotVersion: 'v9',
      towerFingerprint: FP,
      tasks: TASKS,
      dim: DIM,
      dtype: 'float32',
    });
    const { ids, embeddings } = sample(100);
    for (let i = 0; i < 100; i += 30) {
      const end = Math.min(100, i + 30);
      await w.append(ids.subarray(i, end), embeddings.subarray(i * 2 * DIM, end * 2 * DIM));
    }
    await w.finish();
    const s = await openSnapshot(dir, { loadEmbeddings: false });
    expect(s.embeddings).toBeNull();
    expect(s.rows).toBe(100);
    expect(s.lookup([ids[99]!])[0]).toBe(99);
    await writeLatest(root, 'v9');
    expect((await readFile(join(root, 'LATEST'), 'utf8')).trim()).toBe('v9');
  });

  it('handles a 100k-row index quickly', async () => {
    const { IdIndex } = await import('./id-index.js');
    const ids = new BigUint64Array(100_000).map((_, i) => BigInt(i) * 7919n + (1n << 40n));
    const index = IdIndex.build(ids);
    const q = new BigUint64Array(5000).map((_, i) => ids[(i * 37) % ids.length]! + (i % 2 === 0 ? 0n : 1n));
    const rows = index.lookup(q);
    const want = Int32Array.from({ length: q.length }, (_, i) => (i % 2 === 0 ? (i * 37) % ids.length : -1));
    expect(rows).toEqual(want);
  });
});

describe('snapshot refusals', () => {
  it('writer refuses duplicate ids and writes no manifest', async () => {
    const dir = join(root, 'dup-writer');
    const ids = new BigUint64Array([1n, 2n, 1n]);
    await expect(
      writeSnapshot(dir, {
        snapshotVersion: 'v1',
        towerFingerprint: FP,
        tasks: TASKS,
        dim: DIM,
        dtype: 'float32',
        ids,
        embeddings: new Float32Array(3 * 2 * DIM),
      }),
    ).rejects.toMatchObject({ cause: 'duplicate_ids' });
    await expect(readFile(join(dir, MANIFEST_FILE))).rejects.toThrow(/ENOENT/);
  });

  it('truncated matrix', async () => {
    const dir = await make();
    await truncate(join(dir, EMBEDDINGS_FILE), 100);
    await expectRefused(dir, 'truncated', /embeddings\.bin is truncated/);
  });

  it('truncated ids', async () => {
    const dir = await make();
    await truncate(join(dir, IDS_FILE), 8);
    await expectRefused(dir, 'truncated', /ids\.u64 is truncated/);
  });

  it('a longer file than the manifest says', async () => {
    const dir = await make();
    await appendFile(join(dir, EMBEDDINGS_FILE), Buffer.alloc(4));
    await expectRefused(dir, 'size', /embeddings\.bin has/);
  });

  it('bad checksum (one flipped byte)', async () => {
    const dir = await make();
    const p = join(dir, EMBEDDINGS_FILE);
    const buf = await readFile(p);
    buf[123]! ^= 0xff;
    await writeFile(p, buf);
    await expectRefused(dir, 'checksum', /embeddings\.bin: sha256/);
  });

  it('wrong format version', async () => {
    const dir = await make();
    await editManifest(dir, (m) => (m.formatVersion = 4));
    await expectRefused(dir, 'format_version', /formatVersion 4/);
  });

  it('dim disagreeing with the files', async () => {
    const dir = await make();
    await editManifest(dir, (m) => (m.dim = DIM + 1));
    await expectRefused(dir, 'shape', /embeddings\.bin.*dim=9/);
  });

  it('rows disagreeing with the ids file', async () => {
    const dir = await make();
    await editManifest(dir, (m) => (m.rows = 49));
    await expectRefused(dir, 'shape', /ids\.u64.*rows=49/);
  });

  it('dtype disagreeing with the matrix', async () => {
    const dir = await make('float16');
    await editManifest(dir, (m) => (m.dtype = 'float32'));
    await expectRefused(dir, 'dtype', /as float16, but dtype is float32/);
  });

  it('unknown dtype', async () => {
    const dir = await make();
    await editManifest(dir, (m) => (m.dtype = 'bfloat16'));
    await expectRefused(dir, 'dtype', /bfloat16/);
  });

  it('duplicate ids in the file', async () => {
    const dir = await make('float32', 4);
    const ids = new BigUint64Array([5n, 6n, 7n, 5n]);
    const buf = Buffer.from(ids.buffer);
    await writeFile(join(dir, IDS_FILE), buf);
    const { createHash } = await import('node:crypto');
    await editManifest(dir, (m) => {
      (m.files as Record<string, { sha256: string }>)[IDS_FILE]!.sha256 = createHash('sha256')
        .update(buf)
        .digest('hex');
    });
    await expectRefused(dir, 'duplicate_ids', /item id 5 appears on rows 0 and 3/);
  });

  it('another tower fingerprint', async () => {
    const dir = await make();
    await expectRefused(dir, 'fingerprint', /fp-test-1 differs from the expected other/, {
      expectedFingerprint: 'other',
    });
  });

  it('manifest missing, not JSON, or missing a field', async () => {
    const a = await make();
    await rm(join(a, MANIFEST_FILE));
    await expectRefused(a, 'manifest', /manifest\.json is missing/);
    const b = await make();
    await writeFile(join(b, MANIFEST_FILE), '{"formatVersion":1,');
    await expectRefused(b, 'manifest', /not JSON/);
    const c = await make();
    await editManifest(c, (m) => delete m.towerFingerprint);
    await expectRefused(c, 'manifest', /towerFingerprint/);
  });

  it('a listed file that is missing', async () => {
    const dir = await make();
    await rm(join(dir, IDS_FILE));
    await expectRefused(dir, 'missing_file', /ids\.u64 is missing/);
  });
});

describe('validation with digests the caller computed while writing', () => {
  async function digests(dir: string): Promise<Record<string, string>> {
    const { createHash } = await import('node:crypto');
    const out: Record<string, string> = {};
    for (const name of [IDS_FILE, EMBEDDINGS_FILE])
      out[name] = createHash('sha256')
        .update(await readFile(join(dir, name)))
        .digest('hex');
    return out;
  }

  it('compares the given digest with the manifest instead of reading the file again', async () => {
    const dir = await make();
    const sha256 = await digests(dir);
    // Flip a byte after "downloading": the given (pre-flip) digest is what is checked, so the
    // file is not hashed again; without the digest, the flip is found.
    const p = join(dir, EMBEDDINGS_FILE);
    const buf = await readFile(p);
    buf[7]! ^= 0xff;
    await writeFile(p, buf);
    await expect(validateSnapshot(dir, { sha256 })).resolves.toMatchObject({ rows: 50 });
    await expect(validateSnapshot(dir)).rejects.toMatchObject({ cause: 'checksum' });
  });

  it('refuses a given digest that differs from the manifest', async () => {
    const dir = await make();
    const sha256 = { ...(await digests(dir)), [EMBEDDINGS_FILE]: '0'.repeat(64) };
    await expect(validateSnapshot(dir, { sha256 })).rejects.toMatchObject({
      cause: 'checksum',
      message: expect.stringMatching(/embeddings\.bin: sha256 0{64}, manifest says/),
    });
  });

  it('still checks sizes and duplicate ids on disk', async () => {
    const a = await make();
    const sha256 = await digests(a);
    await truncate(join(a, EMBEDDINGS_FILE), 100);
    await expect(validateSnapshot(a, { sha256 })).rejects.toMatchObject({ cause: 'truncated' });

    const b = await make('float32', 4);
    const buf = Buffer.from(new BigUint64Array([5n, 6n, 7n, 5n]).buffer);
    await writeFile(join(b, IDS_FILE), buf);
    const ids = (await digests(b))[IDS_FILE]!;
    await editManifest(b, (m) => ((m.files as Record<string, { sha256: string }>)[IDS_FILE]!.sha256 = ids));
    await expect(validateSnapshot(b, { sha256: { [IDS_FILE]: ids } })).rejects.toMatchObject({
      cause: 'duplicate_ids',
    });
  });
});
