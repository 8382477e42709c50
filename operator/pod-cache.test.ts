import { describe, expect, it } from 'vitest';
import { podForCache } from './pod-cache.js';

describe('podForCache', () => {
  it('keeps metadata (without managedFields), the phase and conditions, and the node; drops the rest', () => {
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
        phase: 'Running',
        podIP: '10.0.0.7',
        startTime: '2026-12-06T00:00:00Z',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/4 nodes are available',
            lastTransitionTime: '2026-12-06T00:00:00Z',
            lastProbeTime: null,
          },
          { type: 'Ready', status: 'True', lastTransitionTime: '2026-12-06T00:00:01Z' },
        ],
        containerStatuses: [{ name: 'server', image: 'x', imageID: 'sha256:1', ready: true, state: {} }],
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
      status: {
        phase: 'Running',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/4 nodes are available',
          },
          { type: 'Ready', status: 'True' },
        ],
      },
    });
    // a pod not yet scheduled has no node: no spec at all
    expect(podForCache({ ...pod, spec: { containers: [] } }).spec).toBeUndefined();
  });

  it("keeps an ended container's exit code, reason and message (a failed build shard's words)", () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'build-0', namespace: 'ns' },
      status: {
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'embed',
            image: 'x',
            ready: false,
            state: {
              terminated: {
                exitCode: 2,
                reason: 'Error',
                message: 'part-00001.parquet: row group 0, row 7: NaN',
                startedAt: '2026-12-06T00:00:00Z',
                containerID: 'c',
              },
            },
          },
          { name: 'side', image: 'y', ready: true, state: { running: {} } },
        ],
      },
    };
    expect(podForCache(pod).status).toEqual({
      phase: 'Failed',
      containerStatuses: [
        {
          name: 'embed',
          state: {
            terminated: {
              exitCode: 2,
              reason: 'Error',
              message: 'part-00001.parquet: row group 0, row 7: NaN',
            },
          },
        },
      ],
    });
  });

  it('keeps a container stuck waiting (a missing Secret), not one merely starting', () => {
    const pod = (reason: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'build-0', namespace: 'ns' },
      status: {
        phase: 'Pending',
        containerStatuses: [
          {
            name: 'embed',
            image: 'x',
            ready: false,
            state: { waiting: { reason, message: 'secret "s" not found' } },
          },
        ],
      },
    });
    expect(podForCache(pod('CreateContainerConfigError')).status).toEqual({
      phase: 'Pending',
      containerStatuses: [
        {
          name: 'embed',
          state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "s" not found' } },
        },
      ],
    });
    expect(podForCache(pod('ContainerCreating')).status).toEqual({ phase: 'Pending' });
  });
});
