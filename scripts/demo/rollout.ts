// Follows a canary rollout of one segment in the RankingModel's status, printing one line per
// change (phase, step, canary weight, analysis verdict) with the traffic each track answered since
// the last line, until the new version is promoted (stable runs it, no canary) or rolled back.
//
// API:
//   followRollout({ kc, namespace, name, segment, version, load, timeoutMs }) → 'promoted' | 'rolledBack'
import type { KubeConfig } from '@kubernetes/client-node';
import { getJson } from '../../test/harness/raw.js';
import { say, seconds } from './steps.js';
import type { Load } from './traffic.js';

export interface SegmentStatus {
  name: string;
  stableVersion?: string;
  canaryVersion?: string;
  canaryWeight?: number;
  rolloutPhase?: string;
  rolloutStep?: number;
  readyReplicas?: number;
  lastAnalysis?: { result: string; message?: string; time?: string };
}

export interface ModelStatus {
  phase?: string;
  rolloutPhase?: string;
  modelVersion?: string;
  readySegments?: string;
  segments?: SegmentStatus[];
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

export async function readStatus(kc: KubeConfig, namespace: string, name: string): Promise<ModelStatus> {
  const obj = await getJson<{ status?: ModelStatus }>(
    kc,
    `/apis/lightrank.dev/v1alpha1/namespaces/${namespace}/rankingmodels/${name}`,
  );
  return obj.status ?? {};
}

function trafficSummary(load: Load, since: Map<string, number>, segment: string): string {
  const parts: string[] = [];
  for (const [key, n] of load.byTrack) {
    if (!key.startsWith(`${segment}/`)) continue;
    const d = n - (since.get(key) ?? 0);
    if (d > 0) parts.push(`${key.slice(segment.length + 1)}: ${d}`);
    since.set(key, n);
  }
  return parts.length ? `traffic ${parts.join(', ')}` : 'no traffic answered';
}

export async function followRollout(opts: {
  kc: KubeConfig;
  namespace: string;
  name: string;
  segment: string;
  version: string;
  load: Load;
  timeoutMs: number;
  /** how long to wait for the operator to start the canary before giving up */
  startTimeoutMs?: number;
}): Promise<'promoted' | 'rolledBack'> {
  const started = Date.now();
  const since = new Map<string, number>();
  let last = '';
  let lastPrint = 0;
  let sawCanary = false;
  for (;;) {
    const status = await readStatus(opts.kc, opts.namespace, opts.name);
    const seg = status.segments?.find((s) => s.name === opts.segment);
    const analysis = seg?.lastAnalysis
      ? `analysis ${seg.lastAnalysis.result}${seg.lastAnalysis.message ? ` (${seg.lastAnalysis.message})` : ''}`
      : 'analysis -';
    const line = seg
      ? `${seg.rolloutPhase ?? '?'} step ${seg.rolloutStep ?? '-'} canary ${seg.canaryVersion ?? '-'} @ ${seg.canaryWeight ?? 0}%  stable ${seg.stableVersion ?? '-'}  ${analysis}`
      : 'no status for the segment yet';
    if (seg?.rolloutPhase === 'Progressing' || seg?.canaryVersion) sawCanary = true;
    const now = Date.now();
    if (line !== last || now - lastPrint > 10_000) {
      say(
        `   [${seconds(now - started).padStart(7)}] ${line}   | ${trafficSummary(opts.load, since, opts.segment)}`,
      );
      last = line;
      lastPrint = now;
    }
    if (seg?.rolloutPhase === 'RolledBack') return 'rolledBack';
    if (
      sawCanary &&
      seg?.stableVersion === opts.version &&
      !seg.canaryVersion &&
      seg.rolloutPhase === 'Stable'
    )
      return 'promoted';
    if (!sawCanary && now - started > (opts.startTimeoutMs ?? 60_000))
      throw new Error(
        `the operator did not start a canary for ${opts.segment} within ${seconds(opts.startTimeoutMs ?? 60_000)} ` +
          `(status: ${line}; conditions: ${JSON.stringify(status.conditions ?? [])})`,
      );
    if (now - started > opts.timeoutMs)
      throw new Error(`the rollout did not finish within ${seconds(opts.timeoutMs)}; last status: ${line}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
