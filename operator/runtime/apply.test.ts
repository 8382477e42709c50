/* eslint-disable @typescript-eslint/no-explicit-any -- the tests reach deep into plain JSON objects */
import { describe, expect, it } from 'vitest';
import {
  desiredHash,
  firstDifference,
  HASH_ANNOTATION,
  isSubset,
  parseQuantity,
  staleField,
  withHash,
} from './apply.js';
import type { KubeObject } from './kube/types.js';

const desired: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'd', namespace: 'n', labels: { a: '1' } },
  spec: {
    replicas: 2,
    template: {
      spec: {
        containers: [
          {
            name: 'server',
            image: 'i:1',
            env: [{ name: 'X', value: '1' }],
            resources: { limits: { cpu: '1', memory: '1Gi' } },
          },
        ],
        tolerations: [{ key: 'k', operator: 'Exists' }],
      },
    },
  },
};

/** What the API server returns: defaults filled in, extra metadata, quantities normalised. */
function live(mutate: (o: any) => void = () => {}): KubeObject {
  const o: any = structuredClone(withHash(desired));
  o.metadata.uid = 'u';
  o.metadata.resourceVersion = '7';
  o.metadata.annotations['deployment.kubernetes.io/revision'] = '1';
  o.spec.strategy = { type: 'RollingUpdate' };
  const c = o.spec.template.spec.containers[0];
  c.imagePullPolicy = 'IfNotPresent';
  c.resources.limits.cpu = '1000m';
  o.spec.template.spec.containers.push({ name: 'injected', image: 'mesh' });
  o.status = { replicas: 2 };
  mutate(o);
  return o;
}

describe('staleField', () => {
  it('finds nothing stale in a live object that only adds defaults and others’ entries', () => {
    expect(staleField(desired, live())).toBeUndefined();
  });

  it('takes downward-API env (valueFrom) as unchanged once the server defaults fieldRef.apiVersion', () => {
    const withPod = structuredClone(desired) as any;
    withPod.spec.template.spec.containers[0].env.push({
      name: 'POD_NAME',
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    });
    const served = (fieldPath: string) => {
      const o: any = structuredClone(withHash(withPod));
      o.spec.template.spec.containers[0].env[1].valueFrom.fieldRef = { apiVersion: 'v1', fieldPath };
      return o as KubeObject;
    };
    expect(staleField(withPod, served('metadata.name'))).toBeUndefined();
    expect(staleField(withPod, served('metadata.uid'))).toBe(
      '.spec.template.spec.containers[server].env[POD_NAME].valueFrom.fieldRef.fieldPath',
    );
  });

  it('names the field a hand edit changed', () => {
    expect(
      staleField(
        desired,
        live((o) => (o.spec.replicas = 5)),
      ),
    ).toBe('.spec.replicas');
    expect(
      staleField(
        desired,
        live((o) => (o.spec.template.spec.containers[0].image = 'evil')),
      ),
    ).toBe('.spec.template.spec.containers[server].image');
    expect(
      staleField(
        desired,
        live((o) => (o.spec.template.spec.containers[0].env = [])),
      ),
    ).toBe('.spec.template.spec.containers[server].env[X]');
  });

  it('sees a field the operator stopped wanting through the hash', () => {
    const fewer = structuredClone(desired) as any;
    delete fewer.spec.template.spec.tolerations;
    expect(staleField(fewer, live())).toBe(`.metadata.annotations.${HASH_ANNOTATION}`);
  });

  it('reports a missing object', () => {
    expect(staleField(desired, undefined)).toBe('(missing)');
  });
});

describe('firstDifference / isSubset', () => {
  it('compares unnamed lists element by element and by length', () => {
    expect(firstDifference({ l: [1, 2] }, { l: [1, 2, 3] })).toBe('.l.length');
    expect(firstDifference({ l: [1, 2] }, { l: [1, 3] })).toBe('.l[1]');
    expect(isSubset({ l: [{ a: 1 }] }, { l: [{ a: 1, b: 2 }] })).toBe(true);
  });

  it('treats a wanted object or list missing from the live object as a difference', () => {
    expect(firstDifference({ a: { b: 1 } }, {})).toBe('.a');
    expect(firstDifference({ a: [] }, { a: {} })).toBe('.a');
  });
});

describe('parseQuantity', () => {
  it('reads the Kubernetes suffixes', () => {
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('2Gi')).toBe(2 * 2 ** 30);
    expect(parseQuantity('1k')).toBe(1000);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('v1')).toBeUndefined();
    expect(parseQuantity('')).toBeUndefined();
  });
});

describe('desiredHash', () => {
  it('does not depend on key order', () => {
    expect(desiredHash({ metadata: { name: 'x', namespace: 'y' }, a: 1 } as KubeObject)).toBe(
      desiredHash({ a: 1, metadata: { namespace: 'y', name: 'x' } } as KubeObject),
    );
    expect(desiredHash({ metadata: { name: 'x' }, a: 1 })).not.toBe(
      desiredHash({ metadata: { name: 'x' }, a: 2 }),
    );
  });
});
