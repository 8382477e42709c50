import { describe, expect, it } from 'vitest';
import { podForCache } from './pod-cache.js';

describe('podForCache', () => {
  it('keeps metadata (without managedFields), status and the node; drops the rest of the spec', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        namespace: 'ns',
        resourceVersion: '7',
        labels: { 'lightrank.dev/model': 'ads' },
        annotations: { 'lightrank.dev/snapshot': 'v1' },
        managedFields: [{ manager: 'kubelet' }],
      },
      spec: {
        nodeName: 'gpu-0',
        containers: [{ name: 'server', image: 'x', env: [{ name: 'A', value: 'b' }] }],
      },
      status: {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }],
      },
    };
    const cached = podForCache(pod);
    expect(cached).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        namespace: 'ns',
        resourceVersion: '7',
        labels: { 'lightrank.dev/model': 'ads' },
        annotations: { 'lightrank.dev/snapshot': 'v1' },
      },
      spec: { nodeName: 'gpu-0' },
      status: pod.status,
    });
    // a pod not yet scheduled has no node: no spec at all
    expect(podForCache({ ...pod, spec: { containers: [] } }).spec).toBeUndefined();
  });
});
