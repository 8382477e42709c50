// Population Stability Index between two distributions given as Prometheus histogram buckets
// (cumulative counts by upper bound `le`, "+Inf" last): PSI = Σ (p_c − p_s) · ln(p_c / p_s) over
// the bins. Empty bins get a small floor (1e-4), the usual smoothing, so one empty bin cannot make
// the index infinite. Rules of thumb: < 0.1 no shift, 0.1-0.25 moderate, > 0.25 major.
export const PSI_FLOOR = 1e-4;

export interface Bucket {
  /** Upper bound; Infinity for "+Inf". */
  le: number;
  /** Cumulative count of observations ≤ le. */
  count: number;
}

export function parseLe(le: string): number {
  return le === '+Inf' ? Infinity : Number(le);
}

/** Per-bin counts from cumulative buckets (sorted by bound; negative steps from resets clamp to 0). */
export function binCounts(buckets: readonly Bucket[]): { le: number; count: number }[] {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  let prev = 0;
  return sorted.map((b) => {
    const count = Math.max(0, b.count - prev);
    prev = Math.max(prev, b.count);
    return { le: b.le, count };
  });
}

/** PSI of `actual` (canary) against `expected` (stable); both need the same bucket bounds. */
export function psi(expected: readonly Bucket[], actual: readonly Bucket[]): number {
  const e = binCounts(expected);
  const a = binCounts(actual);
  const bounds = [...new Set([...e, ...a].map((b) => b.le))].sort((x, y) => x - y);
  const total = (bins: { count: number }[]) => bins.reduce((s, b) => s + b.count, 0);
  const te = total(e);
  const ta = total(a);
  if (te === 0 || ta === 0) throw new Error('PSI of an empty distribution is undefined');
  let sum = 0;
  for (const le of bounds) {
    const pe = Math.max(PSI_FLOOR, (e.find((b) => b.le === le)?.count ?? 0) / te);
    const pa = Math.max(PSI_FLOOR, (a.find((b) => b.le === le)?.count ?? 0) / ta);
    sum += (pa - pe) * Math.log(pa / pe);
  }
  return sum;
}
