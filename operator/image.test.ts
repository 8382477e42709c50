// The operator image starts the operator with the Node flags the benchmarks and the cluster tests
// use for the compiled operator (OPERATOR_NODE_ARGS), so that what they measure is what runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPERATOR_NODE_ARGS, REPO_ROOT } from './testing.js';

describe('Dockerfile.operator', () => {
  it('starts dist/operator/main.js with OPERATOR_NODE_ARGS in NODE_OPTIONS', () => {
    const text = readFileSync(join(REPO_ROOT, 'Dockerfile.operator'), 'utf8');
    const entrypoints = [...text.matchAll(/^ENTRYPOINT (.*)$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
    expect(entrypoints).toEqual([['node', 'dist/operator/main.js']]);
    const options = [...text.matchAll(/^ENV NODE_OPTIONS="(.*)"$/gm)].map((m) => m[1]);
    expect(options).toEqual([OPERATOR_NODE_ARGS.join(' ')]);
  });

  it('limits the heap below the chart memory limit', () => {
    const limit = Number(/^--max-old-space-size=(\d+)$/.exec(OPERATOR_NODE_ARGS.join(' '))?.[1]);
    const values = readFileSync(join(REPO_ROOT, 'charts/lightrank/values.yaml'), 'utf8');
    const chartLimit = Number(/^ {2}limits:\n {4}memory: (\d+)Mi$/m.exec(values)?.[1]);
    expect(limit).toBeGreaterThan(0);
    expect(chartLimit).toBeGreaterThan(limit);
  });
});
