import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { containerEnv, mapPath } from './container-env.js';
import { UnsupportedContainerError } from './commands.js';

const pod: V1Pod = {
  metadata: { name: 'p-1', namespace: 'ns', uid: 'u-1', labels: { app: 'x' } },
  spec: { nodeName: 'lightrank-local', containers: [] },
};
const ctx = {
  entry: 'server' as const,
  podIp: '10.250.0.7',
  hostIp: '127.0.0.1',
  localAddress: '127.250.0.7',
  mounts: [
    { mountPath: '/var/lib/lightrank', hostPath: '/run/p/volumes/data' },
    { mountPath: '/var/lib/lightrank/cache/', hostPath: '/run/p/volumes/cache' },
  ],
  tmpDir: '/run/p/volumes/.tmp',
};

describe('mapPath', () => {
  it('maps paths at or under a mount, the longest mount winning', () => {
    expect(mapPath('/var/lib/lightrank', ctx.mounts)).toBe('/run/p/volumes/data');
    expect(mapPath('/var/lib/lightrank/model/current', ctx.mounts)).toBe('/run/p/volumes/data/model/current');
    expect(mapPath('/var/lib/lightrank/cache/x', ctx.mounts)).toBe('/run/p/volumes/cache/x');
    expect(mapPath('/var/lib/lightrankish', ctx.mounts)).toBeUndefined();
  });
});

describe('containerEnv', () => {
  it('resolves the downward API and $(VAR), maps paths and sets the bind host', () => {
    const env = containerEnv(
      {
        name: 'server',
        env: [
          { name: 'LIGHTRANK_DATA_DIR', value: '/var/lib/lightrank' },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
          { name: 'WHO', value: '$(POD_NAME).$(POD_NAMESPACE) $$(POD_NAME) $(NOPE)' },
        ],
      },
      pod,
      ctx,
    );
    expect(env).toMatchObject({
      LIGHTRANK_DATA_DIR: '/run/p/volumes/data',
      POD_NAME: 'p-1',
      POD_NAMESPACE: 'ns',
      POD_IP: '10.250.0.7',
      APP: 'x',
      WHO: 'p-1.ns $(POD_NAME) $(NOPE)',
      LIGHTRANK_HOST: '127.250.0.7',
      TMPDIR: '/run/p/volumes/.tmp',
    });
    expect(env.VITEST).toBeUndefined();
  });

  it('points an unset path variable at the volume mounted on its default', () => {
    expect(containerEnv({ name: 'server' }, pod, ctx).LIGHTRANK_DATA_DIR).toBe('/run/p/volumes/data');
    expect(containerEnv({ name: 'server' }, pod, { ...ctx, mounts: [] }).LIGHTRANK_DATA_DIR).toBeUndefined();
  });

  it('refuses what needs the API (secrets, configMaps, envFrom)', () => {
    expect(() =>
      containerEnv(
        { name: 'c', env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
        pod,
        ctx,
      ),
    ).toThrow(UnsupportedContainerError);
    expect(() => containerEnv({ name: 'c', envFrom: [{ configMapRef: { name: 'm' } }] }, pod, ctx)).toThrow(
      /envFrom/,
    );
  });
});
