import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ContainerConfigError, containerRunArgs, type RunContext } from './podman.js';

const ctx = (over: Partial<RunContext> = {}): RunContext => ({
  podName: 'ns-pod',
  name: 'ns-pod-server',
  env: {},
  mounts: [],
  imageUser: '65532:65532',
  ...over,
});

const pod = (spec: Partial<NonNullable<V1Pod['spec']>> = {}): V1Pod => ({
  metadata: { name: 'pod', namespace: 'ns' },
  spec: { containers: [], ...spec },
});

/** The value following each occurrence of `flag`. */
const values = (args: string[], flag: string): string[] =>
  args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));

describe('containerRunArgs', () => {
  const restricted: V1Container = {
    name: 'server',
    image: 'localhost/lightrank-server:local-cpu',
    args: ['dist/server/main.js', '--port', '8080'],
    env: [{ name: 'A', value: '1' }],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };

  it('maps a restricted container: user, read-only root without extra tmpfs, caps, no-new-privileges', () => {
    const args = containerRunArgs(
      pod({ securityContext: { fsGroup: 65532 } }),
      restricted,
      ctx({ env: { A: '1' } }),
    );
    expect(args.slice(0, 8)).toEqual([
      'run',
      '--detach',
      '--replace',
      '--pull=never',
      '--pod',
      'ns-pod',
      '--name',
      'ns-pod-server',
    ]);
    expect(values(args, '--user')).toEqual(['65532:65532']);
    expect(values(args, '--group-add')).toEqual(['65532']);
    expect(args).toContain('--read-only');
    expect(args).toContain('--read-only-tmpfs=false');
    expect(values(args, '--cap-drop')).toEqual(['ALL']);
    expect(values(args, '--security-opt')).toEqual(['no-new-privileges']);
    expect(values(args, '--env')).toEqual(['A=1']);
    expect(args).not.toContain('--entrypoint');
    // args replace the image's CMD: they follow the image
    expect(args.slice(-4)).toEqual([
      'localhost/lightrank-server:local-cpu',
      'dist/server/main.js',
      '--port',
      '8080',
    ]);
  });

  it('command replaces the entrypoint; volumes bind-mounted, readOnly honoured', () => {
    const args = containerRunArgs(
      pod(),
      { name: 'sidecar', image: 'img', command: ['node', 'dist/sidecar/main.js'], workingDir: '/app' },
      ctx({
        mounts: [
          { hostPath: '/run/pods/p/volumes/data', mountPath: '/var/lib/lightrank' },
          { hostPath: '/run/pods/p/volumes/cfg', mountPath: '/etc/cfg', readOnly: true },
        ],
      }),
    );
    expect(values(args, '--entrypoint')).toEqual(['["node","dist/sidecar/main.js"]']);
    expect(values(args, '--volume')).toEqual([
      '/run/pods/p/volumes/data:/var/lib/lightrank',
      '/run/pods/p/volumes/cfg:/etc/cfg:ro',
    ]);
    expect(values(args, '--workdir')).toEqual(['/app']);
    expect(args.at(-1)).toBe('img');
    expect(args).not.toContain('--user'); // the image's own USER
  });

  it('takes the pod-level securityContext where the container sets nothing, the container over the pod', () => {
    const p = pod({
      securityContext: { runAsUser: 1000, runAsGroup: 2000, seccompProfile: { type: 'Unconfined' } },
    });
    expect(values(containerRunArgs(p, { name: 'a', image: 'i' }, ctx()), '--user')).toEqual(['1000:2000']);
    expect(values(containerRunArgs(p, { name: 'a', image: 'i' }, ctx()), '--security-opt')).toEqual([
      'seccomp=unconfined',
    ]);
    const own = containerRunArgs(p, { name: 'a', image: 'i', securityContext: { runAsUser: 7 } }, ctx());
    expect(values(own, '--user')).toEqual(['7:2000']);
  });

  it('refuses runAsNonRoot when the container would run as root or as a non-numeric user', () => {
    const c: V1Container = { name: 'a', image: 'i', securityContext: { runAsNonRoot: true } };
    expect(() => containerRunArgs(pod(), c, ctx({ imageUser: '' }))).toThrow(ContainerConfigError);
    expect(() => containerRunArgs(pod(), c, ctx({ imageUser: '' }))).toThrow(
      /runAsNonRoot and the image will run as root/,
    );
    expect(() => containerRunArgs(pod(), c, ctx({ imageUser: 'node' }))).toThrow(/non-numeric user \(node\)/);
    expect(() =>
      containerRunArgs(pod(), { ...c, securityContext: { runAsNonRoot: true, runAsUser: 0 } }, ctx()),
    ).toThrow(/root/);
    expect(containerRunArgs(pod(), c, ctx({ imageUser: '65532:65532' }))).toContain('i');
  });

  it('writes the logs where the agent keeps them, in the k8s-file format', () => {
    const args = containerRunArgs(pod(), { name: 'a', image: 'i' }, ctx({ logPath: '/run/p/logs/a.log' }));
    expect(values(args, '--log-driver')).toEqual(['k8s-file']);
    expect(values(args, '--log-opt')).toEqual(['path=/run/p/logs/a.log']);
    expect(containerRunArgs(pod(), { name: 'a', image: 'i' }, ctx())).not.toContain('--log-opt');
  });

  it('enforces memory and CPU limits; refuses a limit that is not a quantity', () => {
    const limited = (limits: Record<string, string>): V1Container => ({
      name: 'a',
      image: 'i',
      resources: { limits },
    });
    const args = containerRunArgs(
      pod(),
      limited({ memory: '2Gi', cpu: '500m', 'nvidia.com/gpu': '1' }),
      ctx(),
    );
    expect(values(args, '--memory')).toEqual([String(2 * 1024 ** 3)]);
    expect(values(args, '--cpus')).toEqual(['0.5']);
    expect(containerRunArgs(pod(), { name: 'a', image: 'i' }, ctx())).not.toContain('--memory');
    expect(() => containerRunArgs(pod(), limited({ memory: 'lots' }), ctx())).toThrow(
      /resources\.limits\.memory "lots" is not a positive quantity/,
    );
  });

  it('refuses what it cannot honour: no image, a Localhost seccomp profile', () => {
    expect(() => containerRunArgs(pod(), { name: 'a' }, ctx())).toThrow(/container "a": no image/);
    expect(() =>
      containerRunArgs(
        pod(),
        {
          name: 'a',
          image: 'i',
          securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'x' } },
        },
        ctx(),
      ),
    ).toThrow(/Localhost/);
  });
});
