// Publish never moves LATEST back to an older build. The operator names a build's version by its
// start time (`<UTC yyyymmddThhmmssZ>-<sha8>`: operator/build/objects.ts buildVersion), so such
// versions sort in time, and it runs one build per segment at a time, a newer item tower
// superseding the build in flight. But a superseded build whose Jobs were already running can
// still reach its publish after the newer build has published (its publish pod started late, or
// retried after a storage error): moving LATEST to its version would put the older tower's
// snapshot back under the serving pods. So publish reads LATEST before it checks the parts and
// again just before it writes LATEST, and refuses a version that sorts before the one LATEST names
// (SupersededError: exit 2, which the publish Job does not retry; the operator reports it).
// Publishing the version LATEST already names (a retry) is allowed. Versions not named the
// operator's way (a build run by hand, the model kit's) have no order, and are never refused here.
//
// Left open: between the last read of LATEST and its write (one PUT, or one rename on file://),
// another publish can still move LATEST. Closing that needs a compare-and-swap from the storage.
//
// API:
//   BUILD_VERSION                       the operator's version names
//   SupersededError                     a BuildInputError (exit 2)
//   assertNotBehindLatest(store, version) → the version LATEST names (undefined when none)
import { BuildInputError } from './catalogue.js';
import type { SnapshotStore } from './store.js';

/** The operator's build versions (operator/build/objects.ts buildVersion): they sort by start. */
export const BUILD_VERSION = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;

/** Marks the message, so that the operator tells a superseded build from a failed one. */
export const SUPERSEDED = 'superseded';

export class SupersededError extends BuildInputError {
  override readonly name = 'SupersededError';
}

/** Throws SupersededError when LATEST names a version of the operator's that is newer than `version`. */
export async function assertNotBehindLatest(
  store: SnapshotStore,
  version: string,
): Promise<string | undefined> {
  const latest = (await store.readText('LATEST'))?.trim() || undefined;
  if (latest === undefined || !BUILD_VERSION.test(latest) || !BUILD_VERSION.test(version)) return latest;
  if (version < latest)
    throw new SupersededError(
      `${SUPERSEDED}: ${store.where('LATEST')} names ${latest}, a build that started after ${version}; ` +
        `publishing ${version} would move LATEST back to an older snapshot, so it does not`,
    );
  return latest;
}
