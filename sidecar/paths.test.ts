import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RefusedError } from './errors.js';
import { assertSafeFileName, assertSafeVersion, within } from './paths.js';

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
});
