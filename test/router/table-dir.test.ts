// The router reading a directory of tables (the namespace's shared router: one ConfigMap key per model),
// in-process on 127.0.0.1 before real node:http upstreams: files merged, a bad file or a model in two
// files refused alone while the others serve, files coming and going, and a thousand files polled.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRouter, type Router } from '../../router/app.js';
import { createLogger } from '../../lib/logger.js';
import { RouterMetrics } from '../../router/metrics.js';
import { TableSource } from '../../router/table-source.js';
import { ConfigMapKeys, request, startUpstream, table, type Upstream } from './helpers.js';

let dir: string;
let cm: ConfigMapKeys;
const closers: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lightrank-table-dir-'));
  cm = new ConfigMapKeys(dir);
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await rm(dir, { recursive: true, force: true });
});

async function upstream(name: string): Promise<Upstream> {
  const u = await startUpstream(name);
  closers.push(() => u.close());
  return u;
}

/**
 * A router on the directory. Tests that load each change by `reload()` and expect what it returns
 * poll once a minute, so no tick loads the change first; the ones that wait for the poll pass 25 ms.
 */
async function router(reloadIntervalMs = 60_000): Promise<{ r: Router; base: string }> {
  const r = createRouter({ tablePath: dir, reloadIntervalMs, logger: createLogger('router-test') });
  const addr = await r.listen(0, '127.0.0.1');
  closers.push(() => r.close(500));
  return { r, base: `http://127.0.0.1:${addr.port}` };
}

const upstreamOf = async (base: string, model: string): Promise<string> => {
  const reply = await request(`${base}/v2/models/${model}/infer`, { method: 'POST', body: '{}' });
  expect(reply.status, reply.body).toBe(200);
  return (JSON.parse(reply.body) as { upstream: string }).upstream;
};

const failures = async (r: Router, reason: string): Promise<number> => {
  const text = await r.metrics.registry.metrics();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('lightrank_router_table_reload_failures_total{') && l.includes(`reason="${reason}"`),
    );
  return Number(line?.split(' ').pop());
};

describe('a directory of router tables', () => {
  it('merges one file per model and routes each model to its own backends; a removed file takes its model away', async () => {
    const [a, b] = await Promise.all([upstream('a'), upstream('b')]);
    await cm.write({
      'alpha.json': table({ standard: { stable: a.url } }, { model: 'alpha' }),
      'beta.json': table({ standard: { stable: b.url } }, { model: 'beta' }),
    });
    const { r, base } = await router();
    expect(await upstreamOf(base, 'alpha')).toBe('a');
    expect(await upstreamOf(base, 'beta')).toBe('b');
    const ready = await request(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ ready: true, refused: [] });

    await cm.write({ 'alpha.json': table({ standard: { stable: a.url } }, { model: 'alpha' }) });
    expect(await r.reload()).toBe('loaded');
    expect([...r.source.current!.models.keys()]).toEqual(['alpha']);
    const gone = await request(`${base}/v2/models/beta/infer`, { method: 'POST', body: '{}' });
    expect(gone.status).toBe(404);
  });

  it('refuses a bad file alone: its previous content keeps serving, the other files load', async () => {
    const [a, b, b2] = await Promise.all([upstream('a'), upstream('b'), upstream('b2')]);
    await cm.write({
      'alpha.json': table({ standard: { stable: a.url } }, { model: 'alpha' }),
      'beta.json': table({ standard: { stable: b.url } }, { model: 'beta' }),
    });
    const { r, base } = await router();
    await cm.write({
      'alpha.json': table({ standard: { stable: b2.url } }, { model: 'alpha' }),
      'beta.json': '{"version": 1, "models": {"beta": {"defaultSegment": "standard"}}}',
    });
    expect(await r.reload()).toBe('loaded');
    expect(await upstreamOf(base, 'alpha')).toBe('b2'); // the good file's change loaded
    expect(await upstreamOf(base, 'beta')).toBe('b'); // the bad file's previous content serves
    expect(await failures(r, 'invalid')).toBe(1);
    const ready = await request(`${base}/readyz`);
    expect(ready.status).toBe(200);
    const refused = (JSON.parse(ready.body) as { refused: { file: string; message: string }[] }).refused;
    expect(refused).toHaveLength(1);
    expect(refused[0]!.file).toBe('beta.json');
    expect(refused[0]!.message).toMatch(/models\.beta\.segments/);
    // reported once, not on every tick (a tick is a check that is not forced)
    for (let tick = 0; tick < 3; tick++) await r.source.check();
    expect(await failures(r, 'invalid')).toBe(1);

    await cm.write({
      'alpha.json': table({ standard: { stable: b2.url } }, { model: 'alpha' }),
      'beta.json': table({ standard: { stable: a.url } }, { model: 'beta' }),
    });
    expect(await r.reload()).toBe('loaded');
    expect(await upstreamOf(base, 'beta')).toBe('a');
    expect(r.source.refusedFiles).toEqual([]);
  });

  it('refuses a model named by two files, naming both, and serves it from the file that had it', async () => {
    const [a, x] = await Promise.all([upstream('a'), upstream('x')]);
    await cm.write({ 'alpha.json': table({ standard: { stable: a.url } }, { model: 'alpha' }) });
    const { r, base } = await router();
    await cm.write({
      'alpha.json': table({ standard: { stable: a.url } }, { model: 'alpha' }),
      'aaa.json': table({ standard: { stable: x.url } }, { model: 'alpha' }),
    });
    expect(await r.reload()).toBe('refused');
    expect(await upstreamOf(base, 'alpha')).toBe('a');
    expect(r.source.refusedFiles).toEqual([
      { file: 'aaa.json', reason: 'invalid', message: 'refused: model "alpha" is also in alpha.json' },
    ]);
    expect(await failures(r, 'invalid')).toBe(1);

    // once the other file lets go of the model, the refused file's content loads
    await cm.write({ 'aaa.json': table({ standard: { stable: x.url } }, { model: 'alpha' }) });
    expect(await r.reload()).toBe('loaded');
    expect(await upstreamOf(base, 'alpha')).toBe('x');
    expect(r.source.refusedFiles).toEqual([]);
  });

  it('is ready on an empty directory, and takes the first file when it appears', async () => {
    const a = await upstream('a');
    await cm.write({});
    const { base } = await router(25);
    expect((await request(`${base}/readyz`)).status).toBe(200);
    await cm.write({ 'alpha.json': table({ standard: { stable: a.url } }, { model: 'alpha' }) });
    await expect.poll(() => upstreamOf(base, 'alpha'), { timeout: 5_000 }).toBe('a');
  });

  it('polls a thousand files: one readlink per tick while nothing changes, one file re-parsed when it does', async () => {
    const files = (weight: number): Record<string, object> =>
      Object.fromEntries(
        Array.from({ length: 1000 }, (_, i) => [
          `m${i}.json`,
          table(
            {
              standard: {
                stable: `http://m${i}-standard.ns:80`,
                canary: 'http://c.ns:80',
                canaryWeight: i === 7 ? weight : 0,
              },
            },
            { model: `m${i}` },
          ),
        ]),
      );
    await cm.write(files(0));
    const metrics = new RouterMetrics({ defaultMetrics: false });
    const source = new TableSource({ path: dir, intervalMs: 60_000, logger: createLogger('t'), metrics });
    closers.push(() => source.stop());
    expect(await source.start()).toBe('loaded');
    expect(source.current!.models.size).toBe(1000);
    expect(await source.check()).toBe('unchanged');
    // while `..data` points where it did, no file is looked at: an edit behind the kubelet's back is not seen
    await writeFile(join(dir, '..1', 'm7.json'), JSON.stringify(files(50)['m7.json']));
    expect(await source.check()).toBe('unchanged');
    expect(await source.check(true)).toBe('loaded'); // SIGHUP reads everything

    await cm.write(files(30));
    expect(await source.check()).toBe('loaded');
    const route = source.current!.models.get('m7')!;
    expect(route.segments.get('standard')!.backends.find((b) => b.track === 'canary')?.weight).toBe(30);
    expect(source.current!.models.size).toBe(1000);
    // the same content again (a new ..data, every file re-read and hashed): no new table
    await cm.write(files(30));
    expect(await source.check()).toBe('unchanged');
  });

  it('names the first 20 known models, and how many more, for an unknown one', async () => {
    await cm.write(
      Object.fromEntries(
        Array.from({ length: 25 }, (_, i) => [
          `m${String(i).padStart(2, '0')}.json`,
          table({ standard: { stable: 'http://x.ns:80' } }, { model: `m${String(i).padStart(2, '0')}` }),
        ]),
      ),
    );
    const { base } = await router();
    const reply = await request(`${base}/v2/models/nope/infer`, { method: 'POST', body: '{}' });
    expect(reply.status).toBe(404);
    const error = (JSON.parse(reply.body) as { error: string }).error;
    expect(error).toContain('known: m00, m01');
    expect(error).toContain('m19, … (5 more)');
    expect(error).not.toContain('m20');
  });

  it('reads a plain directory (no ..data link) by a stat per file', async () => {
    const a = await upstream('a');
    await writeFile(
      join(dir, 'alpha.json'),
      JSON.stringify(table({ standard: { stable: a.url } }, { model: 'alpha' })),
    );
    await writeFile(join(dir, 'notes.txt'), 'not a table');
    const { r, base } = await router(25);
    expect(await upstreamOf(base, 'alpha')).toBe('a');
    await writeFile(
      join(dir, 'beta.json'),
      JSON.stringify(table({ standard: { stable: a.url } }, { model: 'beta' })),
    );
    await expect.poll(() => r.source.current?.models.has('beta'), { timeout: 5_000 }).toBe(true);
  });
});
