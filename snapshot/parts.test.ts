// Multi-part snapshots (formatVersion 2): parts written by separate writers read back as one
// snapshot, each part's files checked, and assembled into the single-file layout.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assembleParts,
  MANIFEST_FILE,
  openSnapshot,
  partFileNames,
  SnapshotError,
  validateSnapshot,
  writePartsManifest,
  writeSnapshot,
  type SnapshotManifest,
} from './index.js';

const TASKS = ['ctr', 'good_click'];
const DIM = 4;
const FP = 'fp-parts';
let root: string;
let counter = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-parts-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** `sizes.length` parts of consecutive ids, written by separate writers and gathered as one version. */
async function multiPart(sizes: number[]): Promise<{ dir: string; ids: bigint[]; values: number[] }> {
  const dir = join(root, `v${counter++}`);
  const ids: bigint[] = [];
  const values: number[] = [];
  const parts = [];
  for (const [i, rows] of sizes.entries()) {
    const partDir = join(root, `p${counter++}`);
    const partIds = new BigUint64Array(rows).map((_, r) => BigInt(1000 + ids.length + r));
    const emb = new Float32Array(rows * TASKS.length * DIM).map((_, k) => Math.cos(values.length + k));
    const m = await writeSnapshot(partDir, {
      snapshotVersion: 'part',
      towerFingerprint: FP,
      tasks: TASKS,
      dim: DIM,
      dtype: 'float32',
      ids: partIds,
      embeddings: emb,
    });
    ids.push(...partIds);
    values.push(...emb);
    const names = partFileNames(i);
    await mkdir(dir, { recursive: true });
    await rename(join(partDir, 'ids.u64'), join(dir, names.ids));
    await rename(join(partDir, 'embeddings.bin'), join(dir, names.embeddings));
    parts.push({ rows, ids: m.files['ids.u64']!, embeddings: m.files['embeddings.bin']! });
  }
  await writePartsManifest(
    dir,
    { snapshotVersion: 'v1', towerFingerprint: FP, tasks: TASKS, dim: DIM, dtype: 'float32' },
    parts,
  );
  return { dir, ids, values };
}

async function editManifest(dir: string, edit: (m: SnapshotManifest) => void): Promise<void> {
  const m = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as SnapshotManifest;
  edit(m);
  await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(m));
}

async function refusedWith(dir: string): Promise<SnapshotError> {
  const err: unknown = await validateSnapshot(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SnapshotError);
  return err as SnapshotError;
}

describe('a multi-part snapshot', () => {
  it('reads as one snapshot: ids and embeddings in part order', async () => {
    const { dir, ids, values } = await multiPart([7, 0, 13, 5]);
    const m = await validateSnapshot(dir, { expectedFingerprint: FP });
    expect(m.formatVersion).toBe(2);
    expect(m.parts?.map((p) => p.rows)).toEqual([7, 0, 13, 5]);
    const s = await openSnapshot(dir);
    expect(Array.from(s.ids)).toEqual(ids);
    expect(Array.from(s.embeddings!)).toEqual(Array.from(new Float32Array(values)));
    expect(() => s.embeddingsPath).toThrow(/multi-part/);
  });

  it('refuses a part whose rows disagree, a part file that is not listed, and a corrupt part', async () => {
    const a = await multiPart([3, 4]);
    await editManifest(a.dir, (m) => (m.parts![1]!.rows = 5));
    expect((await refusedWith(a.dir)).message).toMatch(/part 1: part-00001\.ids\.u64: 32 bytes, but rows=5/);

    const b = await multiPart([3, 4]);
    await editManifest(b.dir, (m) => delete m.files[m.parts![0]!.embeddings]);
    expect((await refusedWith(b.dir)).message).toMatch(
      /part 0: files has no entry for part-00000\.embeddings\.bin/,
    );

    const c = await multiPart([3, 4]);
    const file = join(c.dir, partFileNames(1).embeddings);
    const bytes = await readFile(file);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(file, bytes);
    const err = await refusedWith(c.dir);
    expect(err.cause).toBe('checksum');
    expect(err.message).toContain('part-00001.embeddings.bin');

    const d = await multiPart([3]);
    await editManifest(d.dir, (m) => delete m.parts);
    expect((await refusedWith(d.dir)).message).toMatch(/formatVersion 2 needs parts/);
  });

  it('refuses an id in two parts', async () => {
    const a = await multiPart([3, 4]);
    const first = await readFile(join(a.dir, partFileNames(0).ids));
    const second = await readFile(join(a.dir, partFileNames(1).ids));
    first.copy(second, 0, 0, 8); // part 1's first id is now part 0's
    await writeFile(join(a.dir, partFileNames(1).ids), second);
    await editManifest(a.dir, (m) => {
      m.files[partFileNames(1).ids]!.sha256 = createHash('sha256').update(second).digest('hex');
    });
    expect((await refusedWith(a.dir)).cause).toBe('duplicate_ids');
  });

  it('assembles into the single-file layout, equal to the parts read as one', async () => {
    const { dir, ids, values } = await multiPart([5, 9, 2]);
    const m = await validateSnapshot(dir);
    const { manifest, sha256 } = await assembleParts(dir, m);
    expect(manifest.formatVersion).toBe(1);
    expect(manifest.parts).toBeUndefined();
    expect(Object.keys(manifest.files).sort()).toEqual(['embeddings.bin', 'ids.u64']);
    expect(manifest.createdAt).toBe(m.createdAt);
    await validateSnapshot(dir, { sha256 });
    const s = await openSnapshot(dir);
    expect(Array.from(s.ids)).toEqual(ids);
    expect(Array.from(s.embeddings!)).toEqual(Array.from(new Float32Array(values)));
    expect(s.embeddingsPath).toBe(join(dir, 'embeddings.bin'));
  });
});
