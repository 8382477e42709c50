import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/logger.js';
import { ConfigMapDir, table } from '../test/router/helpers.js';
import { RouterMetrics } from './metrics.js';
import { TableSource } from './table-source.js';

let dir: string;
let metrics: RouterMetrics;
let source: TableSource | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lightrank-table-'));
  metrics = new RouterMetrics({ defaultMetrics: false });
});

afterEach(async () => {
  source?.stop();
  await rm(dir, { recursive: true, force: true });
});

function open(path: string, intervalMs = 20): TableSource {
  source = new TableSource({ path, intervalMs, logger: createLogger('router-test'), metrics });
  return source;
}

const count = async (name: string, labels = ''): Promise<number> => {
  const text = await metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`lightrank_router_${name}{${labels}`));
  return Number(line?.split(' ').pop());
};

describe('TableSource', () => {
  it('follows a ConfigMap-style ..data symlink swap by polling, and ignores a rewrite with the same content', async () => {
    const cm = new ConfigMapDir(dir);
    await cm.write(table({ a: { stable: 'http://a:1' } }, { revision: 'one' }));
    const s = open(cm.path);
    expect(await s.start()).toBe('loaded');
    await cm.write(table({ a: { stable: 'http://a:1' } }, { revision: 'two' }));
    await expect.poll(() => s.current?.spec.revision, { timeout: 2_000 }).toBe('two');
    await cm.write(table({ a: { stable: 'http://a:1' } }, { revision: 'two' }));
    expect(await s.check(true)).toBe('unchanged');
    expect(await count('table_reloads_total')).toBe(2);
    expect(await count('table_info', 'revision="two"')).toBe(1);
    expect(await count('backend_weight', 'model="demo",segment="a",track="stable"')).toBe(100);
  });

  it('refuses an invalid table, keeps the old one, and takes the next valid one', async () => {
    const path = join(dir, 'table.json');
    await writeFile(path, JSON.stringify(table({ a: { stable: 'http://a:1' } }, { revision: 'good' })));
    const s = open(path);
    await s.start();
    await writeFile(path, '{"version": 1, "models": {"demo": {"defaultSegment": "a"}}}');
    expect(await s.check()).toBe('refused');
    expect(s.current?.spec.revision).toBe('good');
    expect(s.problem).toMatch(/models\.demo\.segments/);
    expect(await s.check()).toBe('unchanged'); // refused once, not again on every tick
    expect(await count('table_reload_failures_total', 'reason="invalid"')).toBe(1);
    await writeFile(path, JSON.stringify(table({ a: { stable: 'http://b:1' } }, { revision: 'fixed' })));
    expect(await s.check()).toBe('loaded');
    expect(s.current?.spec.revision).toBe('fixed');
    expect(s.problem).toBe('');
  });

  it('stays unready while the file is missing and loads it when it appears', async () => {
    const path = join(dir, 'late.json');
    const s = open(path);
    expect(await s.start()).toBe('unreadable');
    expect(await s.check()).toBe('unreadable');
    expect(s.current).toBeUndefined();
    expect(s.problem).toContain('ENOENT');
    expect(await count('table_reload_failures_total', 'reason="unreadable"')).toBe(1); // reported once
    await writeFile(path, JSON.stringify(table({ a: { stable: 'http://a:1' } })));
    await expect.poll(() => s.current?.models.has('demo'), { timeout: 2_000 }).toBe(true);
  });
});
