import { describe, expect, it } from 'vitest';
import {
  defaultImageAllowed,
  entryLocalDefaults,
  planContainer,
  UnsupportedContainerError,
} from './commands.js';

const repo = '/repo';
const image = 'ghcr.io/lightrank/lightrank-server:0.1.0';

function refusal(fn: () => unknown): UnsupportedContainerError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UnsupportedContainerError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('planContainer', () => {
  it('maps the operator’s commands to the TypeScript entry points', () => {
    expect(planContainer({ name: 's', image, command: ['node', 'dist/server/main.js'] }, { repo })).toEqual({
      entry: 'server',
      script: '/repo/server/main.ts',
      args: [],
    });
    expect(
      planContainer(
        {
          name: 'r',
          image,
          command: ['/usr/local/bin/node'],
          args: ['/app/dist/router/main.js', '--table', '/t'],
        },
        { repo },
      ),
    ).toEqual({ entry: 'router', script: '/repo/router/main.ts', args: ['--table', '/t'] });
  });

  it('uses the image’s ENTRYPOINT and CMD as Kubernetes does', () => {
    expect(planContainer({ name: 's', image }, { repo }).entry).toBe('server');
    expect(planContainer({ name: 's', image, args: ['dist/sidecar/main.js'] }, { repo }).entry).toBe(
      'sidecar',
    );
  });

  it('refuses other images and commands, naming the container', () => {
    const img = refusal(() =>
      planContainer({ name: 'box', image: 'busybox:1.36', command: ['sleep', '9'] }, { repo }),
    );
    expect(img.reason).toBe('UnsupportedImage');
    expect(img.message).toContain('container "box": image "busybox:1.36"');
    const cmd = refusal(() => planContainer({ name: 'py', image, command: ['python', 'x.py'] }, { repo }));
    expect(cmd.reason).toBe('UnsupportedCommand');
    expect(cmd.message).toContain('["python","x.py"]');
    expect(
      refusal(() => planContainer({ name: 'o', image, command: ['node', 'dist/operator/main.js'] }, { repo }))
        .reason,
    ).toBe('UnsupportedCommand');
  });

  it('takes an image check of the caller’s', () => {
    expect(planContainer({ name: 's', image: 'mine:1' }, { repo, imageAllowed: () => true }).entry).toBe(
      'server',
    );
  });
});

describe('defaultImageAllowed', () => {
  it('looks at the repository’s last segment', () => {
    expect(defaultImageAllowed('lightrank-server')).toBe(true);
    expect(defaultImageAllowed('registry:5000/a/lightrank-server@sha256:abc')).toBe(true);
    expect(defaultImageAllowed('lightrank/nginx:1')).toBe(false);
  });
});

describe('entryLocalDefaults', () => {
  it('points the router at EndpointSlices and the pods’ loopback side', () => {
    expect(entryLocalDefaults('router', { podNetwork: '10.250', kubeconfigPath: '/k' })).toEqual({
      LIGHTRANK_ROUTER_RESOLVER: 'kubernetes',
      LIGHTRANK_ROUTER_KUBECONFIG: '/k',
      LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP: '10.250.0.0/16=127.250.0.0/16',
    });
    expect(entryLocalDefaults('router', { podNetwork: '10.9' })).toEqual({
      LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP: '10.9.0.0/16=127.9.0.0/16',
    });
    expect(entryLocalDefaults('server', { podNetwork: '10.250', kubeconfigPath: '/k' })).toEqual({});
  });
});
