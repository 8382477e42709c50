// vitest globalSetup of the `cluster` project: one control plane per test run (or the existing
// cluster at LIGHTRANK_TEST_KUBECONFIG), loaded with lightrank's CRDs (crds/*.yaml) and the
// Gateway API standard CRDs, handed to the tests through `inject('lightrankCluster')`.
import { KubeConfig } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { REPO_ROOT, controlPlaneCacheDir } from './binaries.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { applyManifests, readManifests } from './manifests.js';
import { prometheusBinary } from './tools.js';

export interface ClusterInfo {
  kubeconfigPath: string;
  serverUrl: string;
  /** 'harness': the control plane in a box; 'external': LIGHTRANK_TEST_KUBECONFIG */
  source: 'harness' | 'external';
  /** the API server's audit log (write verbs); null for an external cluster */
  auditLogPath: string | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    lightrankCluster: ClusterInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (m: string): void => void process.stderr.write(`[cluster setup] ${m}\n`);
  const external = process.env.LIGHTRANK_TEST_KUBECONFIG;
  let cp: ControlPlane | undefined;
  let info: ClusterInfo;
  let gatewayCrdsDir: string;
  // the demo test runs its canary analysis on a real Prometheus: build it here, where a cold
  // build (minutes) has no test timeout; cached after
  log(`Prometheus: ${await prometheusBinary()}`);
  if (external) {
    if (!existsSync(external)) throw new Error(`LIGHTRANK_TEST_KUBECONFIG=${external}: no such file`);
    const kc = new KubeConfig();
    kc.loadFromFile(external);
    info = {
      kubeconfigPath: external,
      serverUrl: kc.getCurrentCluster()?.server ?? '',
      source: 'external',
      auditLogPath: null,
    };
    gatewayCrdsDir = join(controlPlaneCacheDir(), 'gateway-api-crds');
    log(`using the existing cluster at ${info.serverUrl} (LIGHTRANK_TEST_KUBECONFIG)`);
  } else {
    cp = await startControlPlane({ onProgress: log });
    info = {
      kubeconfigPath: cp.kubeconfigPath,
      serverUrl: cp.serverUrl,
      source: 'harness',
      auditLogPath: cp.auditLogPath,
    };
    gatewayCrdsDir = cp.binaries.gatewayApiCrdsDir;
  }
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(info.kubeconfigPath);
    const objects = [...readManifests(join(REPO_ROOT, 'crds')), ...readManifests(gatewayCrdsDir)];
    if (!existsSync(gatewayCrdsDir))
      log(`no Gateway API CRDs at ${gatewayCrdsDir} (run scripts/build-control-plane.sh)`);
    const crds = await applyManifests(kc, objects);
    log(`installed ${crds.length} CRDs: ${crds.join(', ')}`);
  } catch (err) {
    await cp?.stop();
    throw err;
  }
  project.provide('lightrankCluster', info);
  return async () => {
    await cp?.stop();
  };
}
