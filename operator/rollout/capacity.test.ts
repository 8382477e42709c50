import { describe, expect, it } from 'vitest';
import { computeCapacity, podRequest, tolerates } from './capacity.js';

const GPU = 'nvidia.com/gpu';
const taint = { key: GPU, value: 'present', effect: 'NoSchedule' };
const node = (
  name: string,
  gpus: number,
  labels: Record<string, string> = {},
  extra: Record<string, unknown> = {},
) => ({
  metadata: { name, labels },
  spec: { taints: [taint], ...extra },
  status: { allocatable: { [GPU]: String(gpus) } },
});
const pod = (nodeName: string | undefined, gpus: number, phase = 'Running') => ({
  metadata: { name: `p-${Math.random()}` },
  spec: { nodeName, containers: [{ resources: { limits: { [GPU]: String(gpus) } } }] },
  status: { phase },
});
const tol = [{ key: GPU, operator: 'Exists', effect: 'NoSchedule' }];

describe('GPU capacity', () => {
  it('is allocatable minus the requests of bound, unfinished pods on eligible nodes', () => {
    const nodes = [node('a', 8, { pool: 'x' }), node('b', 8, { pool: 'x' }), node('c', 8, { pool: 'y' })];
    const pods = [
      pod('a', 3),
      pod('b', 8),
      pod('c', 2),
      pod(undefined, 4, 'Pending'),
      pod('a', 1, 'Succeeded'),
    ];
    expect(computeCapacity(nodes, pods, GPU, { pool: 'x' }, tol)).toEqual({
      resource: GPU,
      nodes: 2,
      allocatable: 16,
      requested: 11,
      free: 5,
    });
  });

  it('leaves out nodes whose taints are not tolerated, cordoned nodes and nodes without the resource', () => {
    const nodes = [node('a', 8), node('b', 8, {}, { unschedulable: true }), node('c', 0)];
    expect(computeCapacity(nodes, [], GPU, {}, []).nodes).toBe(0);
    expect(computeCapacity(nodes, [], GPU, {}, tol).nodes).toBe(1);
  });

  it('tolerates like the scheduler: Exists with or without key, Equal on value, PreferNoSchedule always', () => {
    expect(tolerates([{ operator: 'Exists' }], taint)).toBe(true);
    expect(tolerates([{ key: GPU, operator: 'Equal', value: 'present' }], taint)).toBe(true);
    expect(tolerates([{ key: GPU, operator: 'Equal', value: 'other' }], taint)).toBe(false);
    expect(tolerates([{ key: GPU, operator: 'Exists', effect: 'NoExecute' }], taint)).toBe(false);
    expect(tolerates([], { key: 'k', effect: 'PreferNoSchedule' })).toBe(true);
  });

  it('counts init containers as their maximum, not their sum', () => {
    const p = {
      metadata: { name: 'p' },
      spec: {
        containers: [{ resources: { limits: { [GPU]: '1' } } }],
        initContainers: [
          { resources: { limits: { [GPU]: '2' } } },
          { resources: { limits: { [GPU]: '2' } } },
        ],
      },
    };
    expect(podRequest(p, GPU)).toBe(2);
  });
});
