// Top-K selection over one task's scores, shared by the ranking codecs (JSON and gRPC).
//
// API: topIndices(scores, k) → number[]   the k largest entries' indices, best first (ties: lower index first)

export function topIndices(s: Float32Array, k: number): number[] {
  if (k * 8 < s.length) {
    // partial: keep a sorted buffer of the best k
    const best: number[] = [];
    for (let i = 0; i < s.length; i++) {
      if (best.length === k && s[i]! <= s[best[k - 1]!]!) continue;
      let at = best.length;
      while (at > 0 && s[best[at - 1]!]! < s[i]!) at--;
      best.splice(at, 0, i);
      if (best.length > k) best.pop();
    }
    return best;
  }
  const idx = Array.from({ length: s.length }, (_, i) => i);
  idx.sort((a, b) => s[b]! - s[a]! || a - b);
  return idx.slice(0, k);
}

/** Positions in the request of the known candidates, in order (`present[i] >= 0`: known). */
export function knownPositions(present: Int32Array, knownCount: number): Int32Array {
  const out = new Int32Array(knownCount);
  for (let i = 0, j = 0; i < present.length; i++) if (present[i]! >= 0) out[j++] = i;
  return out;
}

/** Which of the model's tasks a request asked for (all when `tasks` is absent), by index. */
export function taskIndices(
  asked: readonly string[] | undefined,
  tasks: readonly string[],
  field: (i: number) => string,
  fail: (field: string, message: string) => Error,
): number[] {
  if (asked === undefined) return tasks.map((_, i) => i);
  return asked.map((task, i) => {
    const at = tasks.indexOf(task);
    if (at < 0) throw fail(field(i), `unknown task "${task}"; this model has ${tasks.join(', ')}`);
    return at;
  });
}
