import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { containerEnv, mapPath, secretNames, type Secrets } from './container-env.js';
import { UnsupportedContainerError } from './commands.js';
import { ContainerConfigError } from './podman.js';

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

  it('refuses what it cannot read (configMaps in env)', () => {
    expect(() => containerEnv({ name: 'c', envFrom: [{ configMapRef: { name: 'm' } }] }, pod, ctx)).toThrow(
      /envFrom .* \(only secretRef\) is not supported/,
    );
    expect(() =>
      containerEnv(
        { name: 'c', env: [{ name: 'K', valueFrom: { configMapKeyRef: { name: 'm', key: 'k' } } }] },
        pod,
        ctx,
      ),
    ).toThrow(UnsupportedContainerError);
  });

  it('takes Secrets as a kubelet does: envFrom first (prefix, bad names skipped), env winning, secretKeyRef', () => {
    const secrets: Secrets = new Map<string, Record<string, string>>([
      [
        'store',
        {
          AWS_ACCESS_KEY_ID: 'id',
          AWS_SECRET_ACCESS_KEY: 's3cr3t',
          LIGHTRANK_SNAPSHOT_URI: 'evil',
          'bad key': 'x',
        },
      ],
      ['other', { token: 't-1' }],
    ]);
    const env = containerEnv(
      {
        name: 'sync',
        envFrom: [{ secretRef: { name: 'store' } }, { secretRef: { name: 'other' }, prefix: 'X_' }],
        env: [
          { name: 'LIGHTRANK_SNAPSHOT_URI', value: 's3://snaps/ads' },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'other', key: 'token' } } },
          { name: 'MAYBE', valueFrom: { secretKeyRef: { name: 'gone', key: 'k', optional: true } } },
        ],
      },
      pod,
      { ...ctx, secrets: new Map([...secrets, ['gone', undefined]]) },
    );
    expect(env).toMatchObject({
      AWS_ACCESS_KEY_ID: 'id',
      AWS_SECRET_ACCESS_KEY: 's3cr3t',
      LIGHTRANK_SNAPSHOT_URI: 's3://snaps/ads',
      X_token: 't-1',
      TOKEN: 't-1',
    });
    expect(env).not.toHaveProperty('bad key');
    expect(env).not.toHaveProperty('MAYBE');
    expect(
      secretNames({
        name: 'c',
        envFrom: [{ secretRef: { name: 'store' } }],
        env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 'other', key: 'k' } } }],
      }),
    ).toEqual(['store', 'other']);
  });

  it('a missing Secret or key refuses the container with the kubelet’s words', () => {
    const missing = () =>
      containerEnv({ name: 'c', envFrom: [{ secretRef: { name: 'nope' } }] }, pod, {
        ...ctx,
        secrets: new Map([['nope', undefined]]),
      });
    expect(missing).toThrow(ContainerConfigError);
    expect(missing).toThrow('container "c": secret "nope" not found');
    expect(
      containerEnv({ name: 'c', envFrom: [{ secretRef: { name: 'nope', optional: true } }] }, pod, {
        ...ctx,
        secrets: new Map([['nope', undefined]]),
      }),
    ).not.toHaveProperty('AWS_ACCESS_KEY_ID');
    expect(() =>
      containerEnv(
        { name: 'c', env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
        pod,
        { ...ctx, secrets: new Map([['s', { other: 'v' }]]) },
      ),
    ).toThrow("couldn't find key k in Secret ns/s");
  });
});
