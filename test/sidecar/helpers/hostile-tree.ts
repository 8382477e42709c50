// Hostile file trees for the file:// source: a snapshot version (written good by fixtures.ts)
// made to reach outside the storage root, or to trap a reader, in the ways a shared file system
// allows: a listed file that is a symlink (to a byte-identical file outside the root, or inside
// it), a version folder that is a symlink, a hard link, a FIFO, a LATEST that is a symlink, and
// manifest file names that are not plain (`..`, `/`, NUL, unicode look-alikes).
import { execFileSync } from 'node:child_process';
import { copyFile, link, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MANIFEST_FILE } from '../../../snapshot/index.js';

/** Moves `<prefix>/<version>/<name>` to `outside/` and leaves a symlink to it: same bytes, same sha256. */
export async function symlinkOutside(
  prefix: string,
  version: string,
  name: string,
  outside: string,
): Promise<string> {
  const inside = path.join(prefix, version, name);
  await mkdir(outside, { recursive: true });
  const target = path.join(outside, `${version}-${name}`);
  await rename(inside, target);
  await symlink(target, inside);
  return target;
}

/** Replaces `<prefix>/<version>/<name>` with a relative symlink to `target` (inside the root). */
export async function symlinkInside(
  prefix: string,
  version: string,
  name: string,
  target: string,
): Promise<void> {
  const inside = path.join(prefix, version, name);
  await rm(inside);
  await symlink(target, inside);
}

/** Moves the whole version folder outside the root and leaves a symlink to it. */
export async function symlinkVersionDir(prefix: string, version: string, outside: string): Promise<void> {
  await mkdir(outside, { recursive: true });
  const target = path.join(outside, version);
  await rename(path.join(prefix, version), target);
  await symlink(target, path.join(prefix, version));
}

/** Makes `<prefix>/<version>/<name>` a second name (hard link) of a file at `other` (a copy of it made there). */
export async function hardLink(prefix: string, version: string, name: string, other: string): Promise<void> {
  const inside = path.join(prefix, version, name);
  await mkdir(path.dirname(other), { recursive: true });
  await copyFile(inside, other);
  await rm(inside);
  await link(other, inside);
}

/** Replaces `<prefix>/<version>/<name>` with a FIFO (a reader that opens it blocks until a writer comes). */
export function fifo(prefix: string, version: string, name: string): Promise<void> {
  const inside = path.join(prefix, version, name);
  return rm(inside).then(() => void execFileSync('mkfifo', [inside]));
}

/** Makes `<prefix>/LATEST` a symlink to a file holding `version` elsewhere. */
export async function symlinkLatest(prefix: string, version: string, outside: string): Promise<void> {
  await mkdir(outside, { recursive: true });
  const target = path.join(outside, 'LATEST');
  await writeFile(target, `${version}\n`);
  await rm(path.join(prefix, 'LATEST'), { force: true });
  await symlink(target, path.join(prefix, 'LATEST'));
}

/**
 * Lists the file `real` of a version under the name `listed` in its manifest (same sha256 and
 * size), and renames it on disk to that name when the file system allows one (not for '/', NUL, '..').
 */
export async function listAs(prefix: string, version: string, real: string, listed: string): Promise<void> {
  const dir = path.join(prefix, version);
  const file = path.join(dir, MANIFEST_FILE);
  const m = JSON.parse(await readFile(file, 'utf8')) as { files: Record<string, unknown> };
  const { [real]: entry, ...rest } = m.files;
  m.files = { ...rest, [listed]: entry };
  await writeFile(file, JSON.stringify(m));
  const storable = listed !== '.' && listed !== '..' && !listed.includes('\0') && !listed.includes('/');
  if (storable) await rename(path.join(dir, real), path.join(dir, listed));
}

/** Rewrites a version's manifest with `edit`. */
export async function editManifest(
  prefix: string,
  version: string,
  edit: (m: Record<string, unknown>) => Record<string, unknown>,
): Promise<void> {
  const file = path.join(prefix, version, MANIFEST_FILE);
  await writeFile(
    file,
    JSON.stringify(edit(JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>)),
  );
}
