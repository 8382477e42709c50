// The fake nodes kwok simulates: GPU nodes labelled, tainted and sized the way the NVIDIA
// device plugin and GPU feature discovery leave a real one, and plain CPU nodes. Pure builders;
// the control plane creates them (nodes accept status on create, so capacity is set at once).
import type { V1Node, V1Taint } from '@kubernetes/client-node';

/** kwok manages only nodes carrying this annotation (`--manage-nodes-with-annotation-selector`). */
export const KWOK_ANNOTATION = { key: 'kwok.x-k8s.io/node', value: 'fake' } as const;

export const GPU_RESOURCE = 'nvidia.com/gpu';
/** The device plugin's convention: tolerate with `{ key: 'nvidia.com/gpu', operator: 'Exists' }`. */
export const GPU_TAINT = { key: GPU_RESOURCE, value: 'present', effect: 'NoSchedule' } as const;

export interface GpuModel {
  /** `nvidia.com/gpu.product` as GPU feature discovery writes it */
  product: string;
  /** `nvidia.com/gpu.memory`, MiB */
  memoryMiB: number;
  family: string;
  computeMajor: number;
  computeMinor: number;
}

export const H100: GpuModel = {
  product: 'NVIDIA-H100-80GB-HBM3',
  memoryMiB: 81559,
  family: 'hopper',
  computeMajor: 9,
  computeMinor: 0,
};

export function gpuNode(name: string, gpus: number, model: GpuModel = H100): V1Node {
  const resources = {
    cpu: '96',
    memory: '1024Gi',
    pods: '110',
    'ephemeral-storage': '1Ti',
    [GPU_RESOURCE]: `${gpus}`,
  };
  return fakeNode(name, resources, {
    labels: {
      'nvidia.com/gpu.present': 'true',
      'nvidia.com/gpu.product': model.product,
      'nvidia.com/gpu.count': `${gpus}`,
      'nvidia.com/gpu.memory': `${model.memoryMiB}`,
      'nvidia.com/gpu.family': model.family,
      'nvidia.com/gpu.compute.major': `${model.computeMajor}`,
      'nvidia.com/gpu.compute.minor': `${model.computeMinor}`,
      'nvidia.com/gpu.deploy.device-plugin': 'true',
      'nvidia.com/gpu.deploy.gpu-feature-discovery': 'true',
    },
    taints: [{ ...GPU_TAINT }],
  });
}

export function cpuNode(name: string): V1Node {
  return fakeNode(
    name,
    { cpu: '32', memory: '128Gi', pods: '110', 'ephemeral-storage': '500Gi' },
    { labels: {} },
  );
}

function fakeNode(
  name: string,
  resources: Record<string, string>,
  extra: { labels: Record<string, string>; taints?: V1Taint[] },
): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_ANNOTATION.key]: KWOK_ANNOTATION.value, 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': 'kwok',
        type: 'kwok',
        ...extra.labels,
      },
    },
    spec: extra.taints ? { taints: extra.taints } : {},
    status: {
      capacity: resources,
      allocatable: resources,
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'fake',
        kubeProxyVersion: 'fake',
        containerRuntimeVersion: 'kwok',
        bootID: '',
        kernelVersion: '',
        machineID: '',
        osImage: '',
        systemUUID: '',
      },
      phase: 'Running',
    },
  };
}
