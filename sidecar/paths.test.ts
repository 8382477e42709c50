import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RefusedError } from './errors.js';
import { assertSafeFileName, assertSafeKey, assertSafeVersion, isUnder, within } from './paths.js';

describe('path safety', () => {
  it.each(['v1', '2026-11-29T06.30', 'snap_01.a-b', 'a'.repeat(128)])('accepts version %s', (v) => {
    expect(assertSafeVersion(v, 'LATEST')).toBe(v);
  });

  it.each([
    '',
    '..',
    '.',
    '../v1',
    'v1/..',
    '/abs',
    'a/b',
    'a\\b',
    '.hidden',
    '.tmp-x',
    'v 1',
    'v1\n',
    'a'.repeat(129),
    'ü',
  ])('refuses version %j', (v) => {
    expect(() => assertSafeVersion(v, 'LATEST')).toThrow(RefusedError);
    try {
      assertSafeVersion(v, 'LATEST');
    } catch (err) {
      expect((err as RefusedError).refusal).toBe('bad_version');
      expect((err as Error).message).toContain('LATEST');
    }
  });

  it.each([
    '../evil',
    '../../etc/passwd',
    '/etc/passwd',
    'sub/file',
    'a\\..\\b',
    '..',
    'C:evil'.replace(':', '/'),
  ])('refuses manifest file name %j as unsafe_path', (name) => {
    try {
      assertSafeFileName(name, 'v1/manifest.json');
      expect.unreachable();
    } catch (err) {
      expect((err as RefusedError).refusal).toBe('unsafe_path');
      expect((err as Error).message).toContain('v1/manifest.json');
    }
  });

  it('joins a plain name under a directory and refuses one that leaves it', () => {
    expect(within('/data/snapshot', 'v1')).toBe(path.resolve('/data/snapshot/v1'));
    expect(() => within('/data/snapshot', '../model')).toThrow(/would leave/);
    expect(() => within('/data/snapshot', '/etc')).toThrow(/would leave/);
    expect(() => within('/data/snapshot', 'a/b')).toThrow(/would leave/);
    expect(() => within('/data/snapshot', '')).toThrow(/would leave/);
  });

  it('accepts object keys with plain segments, refuses ones that could leave a root', () => {
    expect(assertSafeKey('v1/manifest.json', 'src')).toBe('v1/manifest.json');
    expect(assertSafeKey('query tower (v2).onnx', 'src')).toBe('query tower (v2).onnx');
    for (const key of ['', '..', 'a/../b', './a', 'a//b', '/a', 'a/', 'a\u0000', 'a\\b', 'a\nb']) {
      expect(() => assertSafeKey(key, 'src'), JSON.stringify(key)).toThrow(RefusedError);
    }
  });

  it('tells whether a resolved path lies under a root', () => {
    expect(isUnder('/srv/snap', '/srv/snap')).toBe(true);
    expect(isUnder('/srv/snap', '/srv/snap/v1/ids.u64')).toBe(true);
    expect(isUnder('/srv/snap', '/srv/snap/..x/ids.u64')).toBe(true);
    expect(isUnder('/srv/snap', '/srv/snapshots/v1')).toBe(false);
    expect(isUnder('/srv/snap', '/srv/other')).toBe(false);
    expect(isUnder('/srv/snap', '/etc/passwd')).toBe(false);
  });
});
