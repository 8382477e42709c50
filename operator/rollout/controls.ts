// Manual rollout controls, as annotations on the RankingModel (the Argo Rollouts verbs, spelled
// as `kubectl annotate`; see docs/rollouts.md):
//   lightrank.dev/paused=true     pause: hold the current step (remove the annotation to resume)
//   lightrank.dev/promote=full    promote now: the canary becomes stable, skipping the steps left
//   lightrank.dev/promote=step    skip the current step's pause (Argo's plain `promote`)
//   lightrank.dev/abort=true      abort: roll back now (weight 0, canary removed, Degraded)
//   lightrank.dev/retry=true      start the rolled-back revision's rollout again
// `paused` is a level (it holds while present); the others are one-shot commands, removed by the
// operator once acted on (a JSON merge patch of just that annotation). Every value may also be a
// comma-separated list of segment names, to act on those segments only (`true` means all).
import type { RankingModel } from '../../api/rankingmodel.js';
import type { KubeClient } from '../runtime/kube/client.js';
import { KubeClient as Client } from '../runtime/kube/client.js';
import type { ResourceRef } from '../runtime/kube/types.js';

export const PAUSED = 'lightrank.dev/paused';
export const PROMOTE = 'lightrank.dev/promote';
export const ABORT = 'lightrank.dev/abort';
export const RETRY = 'lightrank.dev/retry';

export interface Controls {
  paused: boolean;
  promote: 'full' | 'step' | undefined;
  abort: boolean;
  retry: boolean;
}

/** Whether an annotation value addresses `segment`: true/all/*, or a list naming it. */
function addresses(value: string | undefined, segment: string, words: readonly string[]): boolean {
  if (value === undefined) return false;
  const v = value.trim();
  if (['true', 'all', '*', ...words].includes(v)) return true;
  return v
    .split(',')
    .map((x) => x.trim().replace(/^(full|step):/, ''))
    .includes(segment);
}

/** The controls in force for one segment. `promote=step` or `step:<segments>` skips a pause only. */
export function readControls(model: RankingModel, segment: string): Controls {
  const a = model.metadata.annotations ?? {};
  const promote = a[PROMOTE]?.trim();
  const step = promote !== undefined && (promote === 'step' || promote.startsWith('step:'));
  return {
    paused: addresses(a[PAUSED], segment, []),
    promote: addresses(promote, segment, ['full', 'step']) ? (step ? 'step' : 'full') : undefined,
    abort: addresses(a[ABORT], segment, []),
    retry: addresses(a[RETRY], segment, []),
  };
}

/** The one-shot annotations, cleared once a pass has acted on them. */
export const ONE_SHOT = [PROMOTE, ABORT, RETRY] as const;

/** Removes one-shot annotations once they have been acted on. */
export async function clearAnnotations(
  client: KubeClient,
  ref: ResourceRef,
  model: RankingModel,
  keys: readonly string[],
): Promise<void> {
  const present = keys.filter((k) => model.metadata.annotations?.[k] !== undefined);
  if (!present.length) return;
  await client.request({
    verb: 'patch',
    kind: ref.kind,
    method: 'PATCH',
    path: Client.path(ref, model.metadata.namespace, model.metadata.name),
    body: { metadata: { annotations: Object.fromEntries(present.map((k) => [k, null])) } },
    contentType: 'application/merge-patch+json',
  });
}
