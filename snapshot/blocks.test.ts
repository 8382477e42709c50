// Block checksums (blocks.ts) in the snapshot format: the writer lists them in its one hash pass,
// each equal to the sha256 of its slice of the file; the manifest schema refuses a list that does
// not cover the file exactly, naming the field; the validator and the reader check each block and
// name the one that differs, with its offsets.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockHasher, FileVerifier } from './blocks.js';
import { EMBEDDINGS_FILE, IDS_FILE, MANIFEST_FILE, parseManifest } from './format.js';
import { partsManifest } from './parts.js';
import { openSnapshot } from './reader.js';
import { validateSnapshot } from './validate.js';
import { SnapshotWriter } from './writer.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-blocks-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const header = {
  snapshotVersion: 'v1',
  towerFingerprint: 'fp',
  tasks: ['ctr', 'gc'],
  dim: 8,
  dtype: 'float32' as const,
};

async function write(dir: string, rows: number, blockBytes?: number) {
  const writer = await SnapshotWriter.create(dir, header, blockBytes ? { blockBytes } : {});
  // in several appends, so that blocks straddle them
  for (let start = 0; start < rows; start += 300) {
    const n = Math.min(300, rows - start);
    const ids = BigUint64Array.from({ length: n }, (_, i) => BigInt(start + i + 1));
    const emb = Float32Array.from({ length: n * 16 }, (_, i) => Math.sin(start * 16 + i));
    await writer.append(ids, emb);
  }
  return writer.finish();
}

describe('block checksums', () => {
  it('BlockHasher: one sha256 per block, the last short, whatever the chunks written', () => {
    const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff);
    const h = new BlockHasher(4096);
    for (const [a, b] of [
      [0, 1],
      [1, 5000],
      [5000, 8192],
      [8192, 10_000],
    ] as const)
      h.update(bytes.subarray(a, b));
    expect(h.digest()).toEqual({
      bytes: 4096,
      sha256: [sha(bytes.subarray(0, 4096)), sha(bytes.subarray(4096, 8192)), sha(bytes.subarray(8192))],
    });
    expect(new BlockHasher(4096).digest().sha256).toEqual([]);
    const exact = new BlockHasher(5000);
    exact.update(bytes);
    expect(exact.digest().sha256).toHaveLength(2);
    expect(() => new BlockHasher(0)).toThrow(/block size 0/);
  });

  it('the writer lists blocks in place of a whole sha256; the schema refuses blocks that do not cover the file', async () => {
    const dir = join(root, 'written');
    const m = await write(dir, 1000, 4096);
    const emb = await readFile(join(dir, EMBEDDINGS_FILE));
    expect(m.files[EMBEDDINGS_FILE]).toEqual({
      bytes: 64_000,
      blocks: {
        bytes: 4096,
        sha256: Array.from({ length: 16 }, (_, i) => sha(emb.subarray(i * 4096, (i + 1) * 4096))),
      },
    });
    expect(m.files[IDS_FILE]!.blocks!.sha256).toHaveLength(2);
    const text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
    expect(parseManifest(text)).toEqual(m);
    type Raw = { files: Record<string, { blocks?: { bytes: number; sha256: string[] } }> };
    const edited = (edit: (m: Raw) => void) => {
      const raw = JSON.parse(text) as Raw;
      edit(raw);
      return JSON.stringify(raw);
    };
    expect(() =>
      parseManifest(edited((raw) => raw.files[EMBEDDINGS_FILE]!.blocks!.sha256.push('a'.repeat(64)))),
    ).toThrow(
      `manifest.json: files.embeddings.bin.blocks.sha256: 17 blocks of 4096 bytes do not cover the file's 64000 bytes (16 do, the last 2560 bytes long)`,
    );
    expect(() => parseManifest(edited((raw) => raw.files[EMBEDDINGS_FILE]!.blocks!.sha256.pop()))).toThrow(
      /15 blocks of 4096 bytes do not cover the file's 64000 bytes/,
    );
    expect(() => parseManifest(edited((raw) => delete raw.files[EMBEDDINGS_FILE]!.blocks))).toThrow(
      'manifest.json: files.embeddings.bin: a file needs its sha256 or its blocks',
    );
    expect(() => parseManifest(edited((raw) => (raw.files[EMBEDDINGS_FILE]!.blocks!.bytes = 0)))).toThrow(
      /files\.embeddings\.bin\.blocks\.bytes/,
    );
  });

  it('a multi-part version whose files carry blocks is formatVersion 3, so a reader of 1 and 2 refuses it by its version', () => {
    const whole = { sha256: 'a'.repeat(64), bytes: 8 };
    const blocked = { bytes: 8, blocks: { bytes: 4, sha256: ['b'.repeat(64), 'c'.repeat(64)] } };
    const header = {
      snapshotVersion: 'v1',
      towerFingerprint: 'fp',
      tasks: ['ctr'],
      dim: 1,
      dtype: 'float32' as const,
    };
    const part = (embeddings: typeof whole | typeof blocked) => ({ rows: 1, ids: whole, embeddings });
    expect(partsManifest(header, [part(whole)]).formatVersion).toBe(2);
    const m = partsManifest(header, [part(whole), part(blocked)]);
    expect(m.formatVersion).toBe(3);
    expect(parseManifest(JSON.stringify(m))).toEqual(m);
    expect(() => parseManifest(JSON.stringify({ ...m, formatVersion: 4 }))).toThrow(
      'manifest.json: formatVersion 4 is not supported (this reader reads 1 to 3)',
    );
    const { parts: _parts, ...noParts } = m;
    expect(() => parseManifest(JSON.stringify(noParts))).toThrow(
      'manifest.json: formatVersion 3 needs parts',
    );
  });

  it('the validator and the reader check each block and name the one that differs', async () => {
    const dir = join(root, 'checked');
    await write(dir, 1000, 4096);
    await expect(validateSnapshot(dir)).resolves.toBeTruthy();
    expect((await openSnapshot(dir)).rows).toBe(1000);
    expect((await openSnapshot(dir, { loadEmbeddings: false })).rows).toBe(1000);
    const emb = await readFile(join(dir, EMBEDDINGS_FILE));
    emb[5 * 4096 + 2048] = emb[5 * 4096 + 2048]! ^ 1;
    await writeFile(join(dir, EMBEDDINGS_FILE), emb);
    const named =
      /^embeddings\.bin: block 5 \(bytes 20480–24575\): sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64}$/;
    await expect(validateSnapshot(dir)).rejects.toThrow(named);
    await expect(openSnapshot(dir)).rejects.toThrow(named);
    await expect(openSnapshot(dir, { loadEmbeddings: false })).rejects.toThrow(named);
    // a caller that checked the blocks while writing the file says so
    await expect(validateSnapshot(dir, { verified: new Set([EMBEDDINGS_FILE]) })).resolves.toBeTruthy();
  });

  it('FileVerifier: a whole sha256 as before; blocks read past the list are refused', () => {
    const bytes = Uint8Array.from({ length: 9000 }, (_, i) => i & 0xff);
    const whole = new FileVerifier('f', { bytes: 9000, sha256: sha(bytes) });
    whole.update(bytes);
    expect(() => whole.finish()).not.toThrow();
    const bad = new FileVerifier('f', { bytes: 9000, sha256: sha(bytes.subarray(1)) });
    bad.update(bytes);
    expect(() => bad.finish()).toThrow(/^f: sha256 [0-9a-f]{64}, manifest says/);
    const blocks = { bytes: 4096, sha256: [sha(bytes.subarray(0, 4096)), sha(bytes.subarray(4096, 8192))] };
    const longer = new FileVerifier('f', { bytes: 8192, blocks });
    longer.update(bytes);
    expect(() => longer.finish()).toThrow('f: 9000 bytes read make 3 blocks of 4096, the manifest lists 2');
  });
});
