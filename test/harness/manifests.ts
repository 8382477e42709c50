// Installs YAML manifests (every document of every *.yaml / *.yml file in some folders) with
// server-side apply, and waits until the CustomResourceDefinitions among them are Established.
import {
  ApiextensionsV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { serverSideApply } from './raw.js';
import { waitFor } from './wait.js';

export const FIELD_MANAGER = 'lightrank-test-harness';

/** All objects in the YAML files directly inside `dir`, in file-name order (none if no dir). */
export function readManifests(dir: string): KubernetesObject[] {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const objects: KubernetesObject[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${join(dir, file)}: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as KubernetesObject | null;
      if (obj?.kind) objects.push(obj);
    }
  }
  return objects;
}

/**
 * Applies the objects; returns the names of the CRDs among them, once all are Established.
 * CRDs go as raw JSON: client-node's typed serialisation (KubernetesObjectApi) maps a CRD
 * through its model classes and silently drops the schema's `default` and `x-kubernetes-*` keys.
 */
export async function applyManifests(kc: KubeConfig, objects: KubernetesObject[]): Promise<string[]> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) {
    try {
      if (obj.kind === 'CustomResourceDefinition') {
        const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${obj.metadata!.name}`;
        await serverSideApply(kc, path, obj, FIELD_MANAGER);
      } else {
        await client.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      }
    } catch (err) {
      throw new Error(`applying ${obj.kind} ${obj.metadata?.name} failed: ${apiErrorMessage(err)}`);
    }
  }
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata!.name!);
  await waitEstablished(kc, crds);
  return crds;
}

export async function waitEstablished(kc: KubeConfig, names: string[], timeoutMs = 60_000): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  for (const name of names) {
    await waitFor(
      `CustomResourceDefinition ${name} Established`,
      async () => {
        const crd = await api.readCustomResourceDefinition({ name });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      },
      { timeoutMs },
    );
  }
}

/** The API server's own message (a Status in the body) rather than the client's wrapper text. */
export function apiErrorMessage(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (typeof e.body === 'string') {
    try {
      const status = JSON.parse(e.body) as { message?: string };
      if (status.message) return `HTTP ${e.code}: ${status.message}`;
    } catch {
      // not JSON: fall through
    }
  }
  return e.message ?? String(err);
}
