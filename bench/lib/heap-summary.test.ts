// heapRows on a real snapshot of a real Node process holding 20,000 objects of one shape.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { heapRows, summarizeHeap } from './heap-summary.js';

const dir = mkdtempSync(join(tmpdir(), 'lightrank-heap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('heapRows', () => {
  it('counts objects by their property names, and their self sizes', () => {
    const file = join(dir, 'x.heapsnapshot');
    execFileSync(process.execPath, [
      '-e',
      `globalThis.kept = Array.from({ length: 20000 }, (_, i) => ({ apiVersion: 'v1', kind: 'Thing', metadata: { name: 'n' + i } }));
       require('v8').writeHeapSnapshot(${JSON.stringify(file)});`,
    ]);
    const { rows, total } = heapRows(file);
    const things = rows.find((r) => r.key === 'Object{apiVersion,kind,metadata}');
    // the 20,000 and the one the literal's boilerplate makes
    expect(things?.count).toBeGreaterThanOrEqual(20000);
    expect(things?.count).toBeLessThanOrEqual(20002);
    const metas = rows.find((r) => r.key === 'Object{name}');
    expect(metas?.count).toBeGreaterThanOrEqual(20000);
    expect(things!.bytes).toBeGreaterThan(20000 * 12);
    expect(total).toBeGreaterThan(things!.bytes + metas!.bytes);
    expect(summarizeHeap(file, 3)).toHaveLength(4);
  });
});
