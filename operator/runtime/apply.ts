// The one apply step: server-side apply of a desired object under the operator's field manager,
// skipped when the live object already matches. "Matches" means both:
//  - the live object carries the hash of the desired object the operator last applied (so a
//    field the operator stopped wanting, which a subset compare cannot see, forces a write), and
//  - every field of the desired object has the same value in the live one (so a hand edit of
//    a managed field is undone). Fields the API server defaults, or other managers own, are
//    ignored; quantities compare by value ("1000m" equals "1").
import { createHash } from 'node:crypto';
import type { KubeClient } from './kube/client.js';
import type { KubeObject, ResourceRef } from './kube/types.js';

export const HASH_ANNOTATION = 'lightrank.dev/desired-hash';

/** Stable JSON (sorted keys) so that equal objects hash equally. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function desiredHash(obj: KubeObject): string {
  return createHash('sha256').update(canonical(obj)).digest('hex').slice(0, 16);
}

/** The desired object with its hash annotation, as it is sent to the API server. */
export function withHash<T extends KubeObject>(obj: T): T {
  const hash = desiredHash(obj);
  return {
    ...obj,
    metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, [HASH_ANNOTATION]: hash } },
  };
}

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The value of a Kubernetes quantity string, or undefined when it is not one. */
export function parseQuantity(s: string): number | undefined {
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$/.exec(s);
  if (!m) return undefined;
  return Number(m[1]) * SUFFIX[m[2] ?? '']!;
}

function sameScalar(want: unknown, have: unknown): boolean {
  if (want === have) return true;
  if (typeof want === 'string' && typeof have === 'string') {
    const a = parseQuantity(want);
    const b = parseQuantity(have);
    return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-12;
  }
  return false;
}

function isNamedList(v: unknown[]): v is { name: string }[] {
  return (
    v.length > 0 &&
    v.every((x) => x !== null && typeof x === 'object' && typeof (x as { name?: unknown }).name === 'string')
  );
}

/**
 * The path of the first field of `want` that `have` lacks or holds with another value, or
 * undefined when every field matches. Lists of named items (containers, env, ports, volumes)
 * match by name, so entries others add are ignored; other lists must match element by element.
 */
export function firstDifference(want: unknown, have: unknown, path = ''): string | undefined {
  if (want === undefined) return undefined;
  if (Array.isArray(want)) {
    if (!Array.isArray(have)) return path || '.';
    if (isNamedList(want)) {
      for (const w of want) {
        const d = firstDifference(
          w,
          (have as { name?: string }[]).find((h) => h?.name === w.name),
          `${path}[${w.name}]`,
        );
        if (d !== undefined) return d;
      }
      return undefined;
    }
    if (want.length !== have.length) return `${path}.length`;
    for (let i = 0; i < want.length; i++) {
      const d = firstDifference(want[i], have[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (want !== null && typeof want === 'object') {
    if (have === null || typeof have !== 'object' || Array.isArray(have)) return path || '.';
    for (const [k, w] of Object.entries(want)) {
      const d = firstDifference(w, (have as Record<string, unknown>)[k], `${path}.${k}`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return sameScalar(want, have) ? undefined : path || '.';
}

/** True when every field of `want` is present in `have` with an equal value. */
export function isSubset(want: unknown, have: unknown): boolean {
  return firstDifference(want, have) === undefined;
}

/** Why `live` is not what applying `desired` would make it (a field path), or undefined when it is. */
export function staleField(desired: KubeObject, live: KubeObject | undefined): string | undefined {
  if (!live) return '(missing)';
  const want = withHash(desired);
  if (live.metadata.annotations?.[HASH_ANNOTATION] !== want.metadata.annotations?.[HASH_ANNOTATION]) {
    return `.metadata.annotations.${HASH_ANNOTATION}`;
  }
  return firstDifference(want, live);
}

export type ApplyOutcome =
  { outcome: 'unchanged' } | { outcome: 'created' | 'updated'; field: string; written: KubeObject };

/** Apply `desired` unless `live` (from the informer cache) already matches it. */
export async function applyIfChanged<T extends KubeObject>(
  client: KubeClient,
  ref: ResourceRef,
  desired: T,
  live: KubeObject | undefined,
): Promise<ApplyOutcome> {
  const field = staleField(desired, live);
  if (field === undefined) return { outcome: 'unchanged' };
  const written = await client.apply(ref, withHash(desired));
  return { outcome: live ? 'updated' : 'created', field, written };
}
