// The embedding snapshot format (docs/internals.md): file names, the manifest schema, and the
// checks of a manifest that need no file contents.
//
// API:
//   SINGLE_FILE_FORMAT_VERSION = 1 (ids.u64 + embeddings.bin), MULTI_PART_FORMAT_VERSION = 2
//   (`parts`: each part's rows and its ids/embeddings file names, in row order),
//   BLOCK_FORMAT_VERSION = 3 (multi-part whose files carry block checksums: a reader of 1 and 2
//   only refuses it by its version, not by a schema error); SNAPSHOT_FORMAT_VERSION = 3, the newest read
//   multiPartVersion(files) → 2 | 3
//   partFileNames(i) → { ids: 'part-0000i.ids.u64', embeddings: 'part-0000i.embeddings.bin' }
//   snapshotParts(m) → SnapshotPart[]                      a single-file snapshot is one part
//   MANIFEST_FILE = 'manifest.json'; IDS_FILE = 'ids.u64'; EMBEDDINGS_FILE = 'embeddings.bin'
//   type EmbeddingDtype = 'float32' | 'float16'
//   interface SnapshotManifest { formatVersion, snapshotVersion, towerFingerprint, tasks, dim,
//     dtype, rows, files: Record<string, { sha256?, bytes, blocks? }>, createdAt }   (sha256 or
//     blocks: { bytes: block size, sha256: each block's }, blocks covering the file exactly)
//   bytesPerValue(dtype): 4 | 2
//   parseManifest(text: string): SnapshotManifest          throws SnapshotError manifest|format_version|dtype
//   checkManifestShape(m: SnapshotManifest): void           throws SnapshotError shape|dtype|manifest
//   checkFingerprint(m, expected?: string): void            throws SnapshotError fingerprint
import { z } from 'zod';
import { blockCount, type FileBlocks } from './blocks.js';
import { SnapshotError } from './errors.js';

/** The single-file format: ids.u64 + embeddings.bin. Still written for one-writer snapshots. */
export const SINGLE_FILE_FORMAT_VERSION = 1;
/** The multi-part format: `parts` lists each writer's ids and embeddings files, in row order. */
export const MULTI_PART_FORMAT_VERSION = 2;
/**
 * The multi-part format whose files may be checked by block checksums (`blocks`) instead of one
 * sha256. Its own number so that a reader of 1 and 2 only refuses it as a newer format, by name.
 */
export const BLOCK_FORMAT_VERSION = 3;
/** The newest format this code reads (it reads every one up to this). */
export const SNAPSHOT_FORMAT_VERSION = BLOCK_FORMAT_VERSION;
export const MANIFEST_FILE = 'manifest.json';
export const IDS_FILE = 'ids.u64';
export const EMBEDDINGS_FILE = 'embeddings.bin';

/** The multi-part version for these files: 3 when any is checked by blocks, else 2. */
export function multiPartVersion(files: Record<string, { blocks?: unknown }>): number {
  return Object.values(files).some((f) => f.blocks !== undefined)
    ? BLOCK_FORMAT_VERSION
    : MULTI_PART_FORMAT_VERSION;
}

/** One part of a multi-part snapshot: its rows, and the names of its two files in `files`. */
export interface SnapshotPart {
  rows: number;
  ids: string;
  embeddings: string;
}

/** The file names of part `index` of a multi-part snapshot. */
export function partFileNames(index: number): { ids: string; embeddings: string } {
  const n = String(index).padStart(5, '0');
  return { ids: `part-${n}.${IDS_FILE}`, embeddings: `part-${n}.${EMBEDDINGS_FILE}` };
}

export type EmbeddingDtype = 'float32' | 'float16';

/**
 * A listed file: its size and its whole sha256, its block checksums (blocks.ts), or both. A
 * reader verifies the blocks when they are listed, else the whole sha256.
 */
export interface SnapshotFileEntry {
  sha256?: string;
  bytes: number;
  blocks?: FileBlocks;
}

export interface SnapshotManifest {
  formatVersion: number;
  snapshotVersion: string;
  towerFingerprint: string;
  tasks: string[];
  dim: number;
  dtype: EmbeddingDtype;
  rows: number;
  files: Record<string, SnapshotFileEntry>;
  createdAt: string;
  /** formatVersion 2 and 3 only: the parts, in row order (their rows add up to `rows`). */
  parts?: SnapshotPart[];
}

/** The parts of any snapshot: a single-file one is one part (ids.u64, embeddings.bin). */
export function snapshotParts(m: SnapshotManifest): SnapshotPart[] {
  return m.parts ?? [{ rows: m.rows, ids: IDS_FILE, embeddings: EMBEDDINGS_FILE }];
}

export function bytesPerValue(dtype: EmbeddingDtype): 4 | 2 {
  return dtype === 'float32' ? 4 : 2;
}

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');

// Blocks cover the file's bytes exactly: ceil(bytes / block size) of them, the last one short.
const fileEntrySchema = z
  .object({
    sha256: sha256Schema.optional(),
    bytes: z.number().int().nonnegative(),
    blocks: z
      .object({
        bytes: z.number().int().positive(),
        sha256: z.array(sha256Schema),
      })
      .optional(),
  })
  .superRefine((e, ctx) => {
    if (e.sha256 === undefined && e.blocks === undefined)
      ctx.addIssue({ code: 'custom', message: 'a file needs its sha256 or its blocks' });
    if (!e.blocks) return;
    const need = blockCount(e.bytes, e.blocks.bytes);
    const n = e.blocks.sha256.length;
    if (n !== need)
      ctx.addIssue({
        code: 'custom',
        path: ['blocks', 'sha256'],
        message:
          `${n} blocks of ${e.blocks.bytes} bytes do not cover the file's ${e.bytes} bytes ` +
          `(${need} do, the last ${need === 0 ? 0 : e.bytes - (need - 1) * e.blocks.bytes} bytes long)`,
      });
  });

// File names stay inside the snapshot directory.
const fileNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a plain file name');

const manifestSchema = z.object({
  formatVersion: z.number().int(),
  snapshotVersion: z.string().min(1),
  towerFingerprint: z.string().min(1),
  tasks: z.array(z.string().min(1)).min(1),
  dim: z.number().int().positive(),
  dtype: z.string(),
  rows: z.number().int().nonnegative(),
  files: z.record(fileNameSchema, fileEntrySchema),
  createdAt: z.iso.datetime({ offset: true }),
  parts: z
    .array(
      z.object({
        rows: z.number().int().nonnegative(),
        ids: fileNameSchema,
        embeddings: fileNameSchema,
      }),
    )
    .min(1)
    .max(100_000)
    .optional(),
});

export function parseManifest(text: string): SnapshotManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SnapshotError(
      'manifest',
      `${MANIFEST_FILE} is not JSON: ${(e as Error).message}`,
      MANIFEST_FILE,
    );
  }
  // The format version decides how to read the rest, so check it before the schema.
  const version = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (
    typeof raw === 'object' &&
    raw !== null &&
    version !== SINGLE_FILE_FORMAT_VERSION &&
    version !== MULTI_PART_FORMAT_VERSION &&
    version !== BLOCK_FORMAT_VERSION &&
    version !== undefined
  ) {
    throw new SnapshotError(
      'format_version',
      `${MANIFEST_FILE}: formatVersion ${JSON.stringify(version)} is not supported (this reader reads ${SINGLE_FILE_FORMAT_VERSION} to ${SNAPSHOT_FORMAT_VERSION})`,
      MANIFEST_FILE,
    );
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw new SnapshotError(
      'manifest',
      `${MANIFEST_FILE}: ${where}: ${issue?.message ?? 'invalid'}`,
      MANIFEST_FILE,
    );
  }
  const m = parsed.data;
  if ((m.formatVersion !== SINGLE_FILE_FORMAT_VERSION) !== (m.parts !== undefined)) {
    throw new SnapshotError(
      'manifest',
      m.parts === undefined
        ? `${MANIFEST_FILE}: formatVersion ${m.formatVersion} needs parts`
        : `${MANIFEST_FILE}: parts are only read in formatVersion 2 and 3`,
      MANIFEST_FILE,
    );
  }
  if (m.dtype !== 'float32' && m.dtype !== 'float16') {
    throw new SnapshotError(
      'dtype',
      `${MANIFEST_FILE}: dtype ${JSON.stringify(m.dtype)} is not float32 or float16`,
      MANIFEST_FILE,
    );
  }
  if (new Set(m.tasks).size !== m.tasks.length) {
    throw new SnapshotError('manifest', `${MANIFEST_FILE}: tasks has duplicates: ${m.tasks.join(',')}`);
  }
  const { parts, ...rest } = m;
  return { ...rest, dtype: m.dtype, ...(parts ? { parts } : {}) };
}

/**
 * Checks that the manifest's declared file sizes agree with rows, tasks, dim and dtype: for each
 * part (a single-file snapshot is one), its ids and embeddings files; the parts' rows add up.
 */
export function checkManifestShape(m: SnapshotManifest): void {
  const parts = snapshotParts(m);
  const named = new Set<string>();
  let rows = 0;
  for (const [i, part] of parts.entries()) {
    const label = m.parts ? `part ${i}: ` : '';
    for (const name of [part.ids, part.embeddings]) {
      if (!m.files[name]) {
        throw new SnapshotError(
          'manifest',
          `${MANIFEST_FILE}: ${label}files has no entry for ${name}`,
          MANIFEST_FILE,
        );
      }
      if (named.has(name))
        throw new SnapshotError('manifest', `${MANIFEST_FILE}: ${name} is named by two parts`, MANIFEST_FILE);
      named.add(name);
    }
    checkPartShape(m, part, label);
    rows += part.rows;
  }
  if (rows !== m.rows) {
    throw new SnapshotError(
      'shape',
      `${MANIFEST_FILE}: the parts hold ${rows} rows, but rows=${m.rows}`,
      MANIFEST_FILE,
    );
  }
}

function checkPartShape(m: SnapshotManifest, part: SnapshotPart, label: string): void {
  const idsBytes = m.files[part.ids]!.bytes;
  if (idsBytes !== part.rows * 8) {
    throw new SnapshotError(
      'shape',
      `${label}${part.ids}: ${idsBytes} bytes, but rows=${part.rows} needs ${part.rows * 8} (8 per id)`,
      part.ids,
    );
  }
  const values = part.rows * m.tasks.length * m.dim;
  const embBytes = m.files[part.embeddings]!.bytes;
  const want = values * bytesPerValue(m.dtype);
  if (embBytes === want) return;
  const other: EmbeddingDtype = m.dtype === 'float32' ? 'float16' : 'float32';
  if (values > 0 && embBytes === values * bytesPerValue(other)) {
    throw new SnapshotError(
      'dtype',
      `${label}${part.embeddings}: ${embBytes} bytes holds rows×tasks×dim=${values} values as ${other}, but dtype is ${m.dtype}`,
      part.embeddings,
    );
  }
  throw new SnapshotError(
    'shape',
    `${label}${part.embeddings}: ${embBytes} bytes, but rows=${part.rows} × tasks=${m.tasks.length} × dim=${m.dim} as ${m.dtype} needs ${want}`,
    part.embeddings,
  );
}

export function checkFingerprint(m: SnapshotManifest, expected: string | undefined): void {
  if (expected !== undefined && m.towerFingerprint !== expected) {
    throw new SnapshotError(
      'fingerprint',
      `towerFingerprint ${m.towerFingerprint} differs from the expected ${expected}`,
      MANIFEST_FILE,
    );
  }
}
