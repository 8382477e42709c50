// Writes self-contained kubeconfig files (certificates embedded as base64 data) for the
// control plane's identities: the admin one for tests and people, one per component.
import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export interface KubeconfigSpec {
  server: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  user: string;
  /** also used as the cluster and context name */
  clusterName: string;
}

export function kubeconfigYaml(spec: KubeconfigSpec): string {
  const b64 = (file: string): string => readFileSync(file).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: spec.clusterName,
        cluster: { server: spec.server, 'certificate-authority-data': b64(spec.caFile) },
      },
    ],
    users: [
      {
        name: spec.user,
        user: { 'client-certificate-data': b64(spec.certFile), 'client-key-data': b64(spec.keyFile) },
      },
    ],
    contexts: [{ name: spec.clusterName, context: { cluster: spec.clusterName, user: spec.user } }],
    'current-context': spec.clusterName,
  });
}

export function writeKubeconfig(path: string, spec: KubeconfigSpec): string {
  writeFileSync(path, kubeconfigYaml(spec), { mode: 0o600 });
  return path;
}
