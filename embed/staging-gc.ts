// Who removes the staged parts of a build that never published: the next publish of the same
// snapshot prefix. A build's shards stage their parts at `<prefix>/.staging/<version>/`; a
// successful publish removes its own folder, but a failed build (a bad row, an index out of
// retries, a refused publish) or one superseded by a newer item tower leaves its folder behind,
// and nothing else ever goes back there: the operator never reads the storage (it holds no
// storage credentials), and a failed build is not retried by itself.
//
// So once a publish has moved LATEST, it removes the staging folders of the builds that started
// before its own: the operator runs at most one build per segment at a time and a newer one
// supersedes an older, so a build that started earlier can no longer move LATEST (its publish is
// refused: latest-order.ts). Builds that
// started later, or versions not named the operator's way (`<UTC yyyymmddThhmmssZ>-<sha8>`,
// which sort by start time: a hand-run build's own names), are left alone, since nothing tells
// whether they are still in flight. A folder that cannot be removed fails nothing: it is named,
// and the next publish tries again.
//
// API:
//   staleStagingVersions(names, version) → string[]   which of `names` (staging folders) to remove
//   removeStaleStaging(store, version) → { removed, failed: [{ version, error }] }
import { BUILD_VERSION } from './latest-order.js';
import { STAGING } from './publish.js';
import type { SnapshotStore } from './store.js';

export function staleStagingVersions(names: string[], version: string): string[] {
  if (!BUILD_VERSION.test(version)) return [];
  return names.filter((n) => BUILD_VERSION.test(n) && n < version).sort();
}

export async function removeStaleStaging(
  store: SnapshotStore,
  version: string,
): Promise<{ removed: string[]; failed: { version: string; error: string }[] }> {
  const removed: string[] = [];
  const failed: { version: string; error: string }[] = [];
  for (const stale of staleStagingVersions(await store.folders(STAGING), version)) {
    try {
      await store.removeAll(`${STAGING}/${stale}`);
      removed.push(stale);
    } catch (err) {
      failed.push({ version: stale, error: (err as Error).message });
    }
  }
  return { removed, failed };
}
