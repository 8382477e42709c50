// Which versions the scoring server in the same pod is serving, read from its /metrics
// (`lightrank_server_model_version_info{version}`, `lightrank_server_snapshot_version_info{version}`),
// so pruning never removes them even when they are neither current nor previous. Best effort: an
// unreachable server (starting, or not there) protects nothing beyond current and previous.
import type { Kind } from './volume.js';

const TIMEOUT_MS = 1000;

/** Versions with value 1 per kind; empty sets when the server can't be asked. */
export async function serverVersions(metricsUrl: string | undefined): Promise<Record<Kind, Set<string>>> {
  const found: Record<Kind, Set<string>> = { model: new Set(), snapshot: new Set() };
  if (!metricsUrl) return found;
  let text: string;
  try {
    const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!res.ok) return found;
    text = await res.text();
  } catch {
    return found;
  }
  for (const line of text.split('\n')) {
    const m = /^lightrank_server_(model|snapshot)_version_info\{([^}]*)\}\s+1(\.0+)?\s*$/.exec(line);
    const version = m && /(?:^|,)version="([^"]*)"/.exec(m[2]!)?.[1];
    if (m && version) found[m[1] as Kind].add(version);
  }
  return found;
}
