// What the router Deployment needs on the demo's local node that a real kubelet and pod network
// would give it, added to the Deployment the operator created (server-side apply under the demo's
// own field manager, so the operator's fields stay the operator's). The operator sets
// LIGHTRANK_ROUTER_RESOLVER=kubernetes (backends by their EndpointSlices: there is no cluster DNS or
// kube-proxy here); the demo adds:
//   - LIGHTRANK_ROUTER_KUBECONFIG: the router ServiceAccount's token in a kubeconfig file, because the
//     local node agent does not mount the projected service-account volume a kubelet would;
//   - LIGHTRANK_ROUTER_ENDPOINT_ADDRESS_MAP: pod IP 10.250.x.y → the loopback address 127.250.x.y the
//     agent's pods listen on.
// The token is the router ServiceAccount's own, so the router runs with the RBAC the operator gave
// it (a Role with get/list/watch on endpointslices), exactly as on a real cluster.
//
// API:
//   prepareRouterAccess(kc, ns, serviceAccount, dir) → kubeconfig path   (a token of the ServiceAccount)
//   patchRouterDeployment(kc, ns, name, env) → Promise<void>
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_POD_NETWORK } from '../../agent/addresses.js';
import { stringify } from 'yaml';
import { serverSideApply } from '../../test/harness/raw.js';
import { waitFor } from '../../test/harness/wait.js';

export const DEMO_FIELD_MANAGER = 'lightrank-demo';
/** the agent's pod network → its loopback side */
export const LOCAL_ADDRESS_MAP = `${DEFAULT_POD_NETWORK}.0.0/16=127.${DEFAULT_POD_NETWORK.split('.')[1]}.0.0/16`;

export async function prepareRouterAccess(
  kc: KubeConfig,
  namespace: string,
  serviceAccount: string,
  dir: string,
): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  // the operator creates the ServiceAccount next to the Deployment: it may not be there yet
  await waitFor(`ServiceAccount ${namespace}/${serviceAccount}`, () =>
    core.readNamespacedServiceAccount({ name: serviceAccount, namespace }).then(() => true),
  );
  const token = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } },
  });
  const cluster = kc.getCurrentCluster();
  if (!cluster?.caData) throw new Error('the demo kubeconfig carries no certificate-authority-data');
  const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
  const path = join(dir, `router-${namespace}-${serviceAccount}.kubeconfig`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'demo', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } },
    ],
    users: [{ name: user, user: { token: token.status!.token } }],
    contexts: [{ name: 'demo', context: { cluster: 'demo', user, namespace } }],
    'current-context': 'demo',
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
  return path;
}

export async function patchRouterDeployment(
  kc: KubeConfig,
  namespace: string,
  name: string,
  env: Record<string, string>,
): Promise<void> {
  await serverSideApply(
    kc,
    `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace },
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'router', env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })) },
            ],
          },
        },
      },
    },
    DEMO_FIELD_MANAGER,
  );
}
