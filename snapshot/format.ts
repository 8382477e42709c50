// The embedding snapshot format (docs/internals.md): file names, the manifest schema, and the
// checks of a manifest that need no file contents.
//
// API:
//   SNAPSHOT_FORMAT_VERSION = 1
//   MANIFEST_FILE = 'manifest.json'; IDS_FILE = 'ids.u64'; EMBEDDINGS_FILE = 'embeddings.bin'
//   type EmbeddingDtype = 'float32' | 'float16'
//   interface SnapshotManifest { formatVersion, snapshotVersion, towerFingerprint, tasks, dim,
//     dtype, rows, files: Record<string, { sha256, bytes }>, createdAt }
//   bytesPerValue(dtype): 4 | 2
//   parseManifest(text: string): SnapshotManifest          throws SnapshotError manifest|format_version|dtype
//   checkManifestShape(m: SnapshotManifest): void           throws SnapshotError shape|dtype|manifest
//   checkFingerprint(m, expected?: string): void            throws SnapshotError fingerprint
import { z } from 'zod';
import { SnapshotError } from './errors.js';

export const SNAPSHOT_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const IDS_FILE = 'ids.u64';
export const EMBEDDINGS_FILE = 'embeddings.bin';

export type EmbeddingDtype = 'float32' | 'float16';

export interface SnapshotFileEntry {
  sha256: string;
  bytes: number;
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
}

export function bytesPerValue(dtype: EmbeddingDtype): 4 | 2 {
  return dtype === 'float32' ? 4 : 2;
}

const fileEntrySchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256'),
  bytes: z.number().int().nonnegative(),
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
    version !== SNAPSHOT_FORMAT_VERSION &&
    version !== undefined
  ) {
    throw new SnapshotError(
      'format_version',
      `${MANIFEST_FILE}: formatVersion ${JSON.stringify(version)} is not supported (this reader reads ${SNAPSHOT_FORMAT_VERSION})`,
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
  return { ...m, dtype: m.dtype };
}

/** Checks that the manifest's declared file sizes agree with rows, tasks, dim and dtype. */
export function checkManifestShape(m: SnapshotManifest): void {
  for (const name of [IDS_FILE, EMBEDDINGS_FILE]) {
    if (!m.files[name]) {
      throw new SnapshotError('manifest', `${MANIFEST_FILE}: files has no entry for ${name}`, MANIFEST_FILE);
    }
  }
  const idsBytes = m.files[IDS_FILE]!.bytes;
  if (idsBytes !== m.rows * 8) {
    throw new SnapshotError(
      'shape',
      `${IDS_FILE}: ${idsBytes} bytes, but rows=${m.rows} needs ${m.rows * 8} (8 per id)`,
      IDS_FILE,
    );
  }
  const values = m.rows * m.tasks.length * m.dim;
  const embBytes = m.files[EMBEDDINGS_FILE]!.bytes;
  const want = values * bytesPerValue(m.dtype);
  if (embBytes === want) return;
  const other: EmbeddingDtype = m.dtype === 'float32' ? 'float16' : 'float32';
  if (values > 0 && embBytes === values * bytesPerValue(other)) {
    throw new SnapshotError(
      'dtype',
      `${EMBEDDINGS_FILE}: ${embBytes} bytes holds rows×tasks×dim=${values} values as ${other}, but dtype is ${m.dtype}`,
      EMBEDDINGS_FILE,
    );
  }
  throw new SnapshotError(
    'shape',
    `${EMBEDDINGS_FILE}: ${embBytes} bytes, but rows=${m.rows} × tasks=${m.tasks.length} × dim=${m.dim} as ${m.dtype} needs ${want}`,
    EMBEDDINGS_FILE,
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
