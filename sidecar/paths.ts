// Path safety: every name that comes from storage (a version in LATEST, a file name in a
// manifest) is checked here before it becomes part of a local path or an object key, so nothing
// a publisher writes can make the sidecar write outside its target directory.
import path from 'node:path';
import { RefusedError } from './errors.js';

// Letters, digits, '.', '_', '-', 1–128 characters, starting with a letter or digit: no
// separators, so never '..' or an absolute path; no leading dot, so never a hidden or temp name.
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name);
}

/** A version string (from LATEST or the spec); throws RefusedError('bad_version') when unsafe. */
export function assertSafeVersion(version: string, where: string): string {
  if (!isSafeName(version)) {
    throw new RefusedError(
      'bad_version',
      `${where}: version ${JSON.stringify(version.slice(0, 200))} is not a safe name ` +
        `(letters, digits, '.', '_', '-', at most 128, starting with a letter or digit)`,
    );
  }
  return version;
}

/** A file name from a manifest; throws RefusedError('unsafe_path') for '..', '/', absolute paths etc. */
export function assertSafeFileName(name: string, where: string): string {
  if (!isSafeName(name)) {
    throw new RefusedError(
      'unsafe_path',
      `${where}: file name ${JSON.stringify(name.slice(0, 200))} is not a plain file name ` +
        `(no '/', '\\', absolute paths or leading dots)`,
    );
  }
  return name;
}

/**
 * An object key as a source receives it ('/' between segments): no empty, '.' or '..' segment,
 * no control character (NUL…), no '\\'. Every source checks its keys with this before building a
 * path, URL or object key, so a key can never name something outside the source's root or
 * prefix, whatever a caller built it from. (The model's key comes from the spec, so it is not held
 * to the stricter file-name rule.)
 */
// eslint-disable-next-line no-control-regex
const CONTROL_OR_BACKSLASH = /[\x00-\x1f\x7f\\]/;

export function assertSafeKey(key: string, where: string): string {
  const bad = key
    .split('/')
    .some((seg) => seg === '' || seg === '.' || seg === '..' || CONTROL_OR_BACKSLASH.test(seg));
  if (bad) {
    throw new RefusedError(
      'unsafe_path',
      `${where}: object key ${JSON.stringify(key.slice(0, 200))} could leave the source's root ` +
        `(empty, '.' or '..' segments, control characters or '\\')`,
    );
  }
  return key;
}

/** True when `target` (an absolute, resolved path) is `root` or lies under it. */
export function isUnder(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** Joins `name` under `dir`, and checks (belt and braces) that the result stays inside `dir`. */
export function within(dir: string, name: string): string {
  const target = path.resolve(dir, name);
  const rel = path.relative(path.resolve(dir), target);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || rel.includes(path.sep)) {
    throw new RefusedError('unsafe_path', `${JSON.stringify(name)} would leave ${dir}`);
  }
  return target;
}
