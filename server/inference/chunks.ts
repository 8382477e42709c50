// How the inference worker splits a batch's ranking jobs into scoring-graph runs: consecutive
// jobs, each run padded to its longest job, at most `budget` candidate rows per run (a job
// longer than the budget runs alone). See CPU_SCORING_ROWS_PER_RUN in worker.ts for why.
//
// API: scoringChunks(lengths: number[], budget: number) → [from, to)[] covering every job in order
export function scoringChunks(lengths: number[], budget: number): [number, number][] {
  const out: [number, number][] = [];
  let from = 0;
  let longest = 0;
  for (let j = 0; j < lengths.length; j++) {
    const padded = Math.max(longest, lengths[j]!);
    if (j > from && (j - from + 1) * padded > budget) {
      out.push([from, j]);
      from = j;
      longest = lengths[j]!;
    } else longest = padded;
  }
  if (lengths.length > 0) out.push([from, lengths.length]);
  return out;
}
