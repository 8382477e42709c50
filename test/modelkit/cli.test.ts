// The model kit's command line as a real process: demo bundle, a second snapshot, bad usage.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateSnapshot } from '../../snapshot/validate.js';

const run = promisify(execFile);
const cli = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'modelkit/cli.ts', ...args], {
    cwd: join(import.meta.dirname, '../..'),
  });

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-cli-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('modelkit cli', () => {
  it('demo, then snapshot v2 from the item tower', async () => {
    const out = join(root, 'demo');
    const demo = JSON.parse(
      (await cli(['demo', '--out', out, '--items', '400', '--dtype', 'float16'])).stdout,
    );
    expect(demo).toMatchObject({ rows: 400, snapshotDir: join(out, 'snapshots', 'v1') });
    await validateSnapshot(demo.snapshotDir, { expectedFingerprint: demo.fingerprint });
    const m = JSON.parse(
      (
        await cli([
          'snapshot',
          '--item-model',
          demo.itemModel,
          '--prefix',
          demo.snapshotPrefix,
          '--version',
          'v2',
          '--items',
          '50',
        ])
      ).stdout,
    );
    expect(m).toMatchObject({
      snapshotVersion: 'v2',
      rows: 50,
      towerFingerprint: demo.fingerprint,
      dtype: 'float32',
    });
    expect((await readFile(join(demo.snapshotPrefix, 'LATEST'), 'utf8')).trim()).toBe('v2');
  });

  it('exits 2 with usage on bad arguments', async () => {
    const cases = [['bogus'], ['demo', '--items', 'x', '--out', root], ['snapshot', '--prefix', root]];
    const errors = await Promise.all(
      cases.map((args) =>
        cli(args).then(
          () => null,
          (e: { code: number; stderr: string }) => e,
        ),
      ),
    );
    errors.forEach((err, i) => {
      expect(err, cases[i]!.join(' ')).not.toBeNull();
      expect(err!.code).toBe(2);
      expect(err!.stderr).toMatch(/usage:/);
    });
  });
});
