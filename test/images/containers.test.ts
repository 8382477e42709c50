// When the container tests skip: only where podman cannot be had, and never under CI=true.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { containerSkipReason } from './containers.js';

const dir = mkdtempSync(join(tmpdir(), 'lightrank-skip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A PATH directory holding executables with these names. */
function pathWith(name: string, tools: string[]): string {
  const bin = join(dir, name);
  mkdirSync(bin);
  for (const t of tools) {
    writeFileSync(join(bin, t), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, t), 0o755);
  }
  return bin;
}

describe.skipIf(process.platform !== 'linux')('containerSkipReason', () => {
  const root = process.getuid?.() === 0;

  it('runs where podman and runc are on PATH', () => {
    expect(containerSkipReason({ PATH: pathWith('both', ['podman', 'runc']) })).toBeUndefined();
  });

  it('skips, saying why and what to do, where podman is missing and apt-get too', () => {
    const reason = containerSkipReason({ PATH: pathWith('runc-only', ['runc']) });
    expect(reason).toMatch(/podman\/runc are not installed and cannot be installed here/);
    expect(reason).toContain(root ? 'no apt-get' : 'not root');
    expect(reason).toContain('scripts/podman.sh install');
  });

  it.skipIf(!root)('runs as root where apt-get can install podman (the set-up installs it)', () => {
    expect(containerSkipReason({ PATH: pathWith('apt', ['apt-get']) })).toBeUndefined();
  });

  it('never skips under CI=true: the set-up fails with the cause instead', () => {
    expect(containerSkipReason({ PATH: pathWith('ci', []), CI: 'true' })).toBeUndefined();
  });
});
