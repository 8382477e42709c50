// The worker pool on the model kit's real towers and scoring graph (ONNX Runtime, CPU): a batch's
// results stream back per scoring run — jobs that need no scoring right after the query tower,
// each ranking job as soon as its run is done — every job exactly once, the last reply marked,
// and the streamed scores equal to each job scored alone; and a worker near the end of a batch
// takes the next one, which it runs after the first, with the same answers.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoBundle } from '../../modelkit/bundle.js';
import { generateFeatures } from '../../modelkit/catalogue.js';
import { createLogger } from '../../lib/logger.js';
import { scoringGraphOverFile } from '../lifecycle/scoring-graph.js';
import { WorkerPool } from './pool.js';
import type { JobResult, RunReply, RunRequest } from './protocol.js';

let root: string;
let pool: WorkerPool;
let rows: number;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lightrank-pool-'));
  const bundle = await buildDemoBundle({ dir: root, items: 5000 });
  rows = bundle.manifest.rows;
  const graph = scoringGraphOverFile(bundle.snapshotDir, bundle.manifest);
  pool = await WorkerPool.start(
    {
      queryModelPath: bundle.queryModel,
      scoringGraph: graph.bytes,
      scoringDataDir: graph.externalDataDir,
      executionProvider: 'cpu',
      intraOpThreads: 1,
      numDense: 16,
      numCategorical: 4,
      tasks: bundle.manifest.tasks.length,
      dim: bundle.manifest.dim,
    },
    1,
    createLogger('pool-test'),
  );
}, 60_000);

afterAll(async () => {
  await pool?.close();
  await rm(root, { recursive: true, force: true });
});

const { dense, categorical } = generateFeatures({ numDense: 16, numCategorical: 4 }, 4, 5);
const candidates = (job: number, n: number): Int32Array =>
  Int32Array.from({ length: n }, (_, i) => (i * 31 + job * 977) % rows);

/** Job j: one query row (features row j); jobs with candidates are ranking jobs. */
function request(specs: { candidates?: number; wantQuery?: boolean }[]): Omit<RunRequest, 'type' | 'id'> {
  return {
    rows: specs.length,
    dense: dense.slice(0, specs.length * 16),
    categorical: categorical.slice(0, specs.length * 4),
    jobs: specs.map((s, j) => ({
      rows: 1,
      wantQuery: s.wantQuery ?? false,
      ...(s.candidates ? { indices: candidates(j, s.candidates) } : {}),
    })),
  };
}

/** Job j's features and n candidates, in a batch of its own. */
const aloneRequest = (j: number, n: number): Omit<RunRequest, 'type' | 'id'> => ({
  rows: 1,
  dense: dense.slice(j * 16, j * 16 + 16),
  categorical: categorical.slice(j * 4, j * 4 + 4),
  jobs: [{ rows: 1, wantQuery: false, indices: candidates(j, n) }],
});

const largestDifference = (a: Float32Array, b: Float32Array): number => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

async function run(req: Omit<RunRequest, 'type' | 'id'>): Promise<RunReply[]> {
  const replies: RunReply[] = [];
  await pool.run(req, (r) => replies.push(r));
  return replies;
}

describe('WorkerPool', () => {
  it('streams a batch: query-only jobs first, then one reply per scoring run, the last marked', async () => {
    // 3,000 candidates each: over the CPU budget of ~4,096 rows per run for two jobs, so each
    // ranking job gets a scoring run (and a reply) of its own.
    const replies = await run(
      request([{ candidates: 3000 }, { wantQuery: true }, { candidates: 3000 }, { candidates: 3000 }]),
    );
    expect(replies.map((r) => r.jobs.map(([j]) => j))).toEqual([[1], [0], [2], [3]]);
    expect(replies.map((r) => r.last)).toEqual([false, false, false, true]);
    expect(replies[0]!.scoringUs).toBe(0);
    for (const r of replies.slice(1)) expect(r.scoringUs).toBeGreaterThan(0);
    const byJob = new Map<number, JobResult>(replies.flatMap((r) => r.jobs));
    expect((byJob.get(1) as { query?: Float32Array }).query).toHaveLength(2 * 64);

    // Each streamed job's scores equal the same job scored in a batch of its own.
    for (const j of [0, 2, 3]) {
      const alone = await run(aloneRequest(j, 3000));
      expect(alone).toHaveLength(1);
      expect(alone[0]!.last).toBe(true);
      const want = (alone[0]!.jobs[0]![1] as { scores: Float32Array }).scores;
      const got = (byJob.get(j) as { scores: Float32Array }).scores;
      expect(got).toHaveLength(2 * 3000);
      expect(largestDifference(got, want)).toBeLessThanOrEqual(1e-6);
    }
  }, 60_000);

  it('scores short jobs together in one run and answers them in one reply', async () => {
    const replies = await run(request([{ candidates: 500 }, { candidates: 700 }, { candidates: 900 }]));
    expect(replies).toHaveLength(1);
    expect(replies[0]!.last).toBe(true);
    expect(replies[0]!.jobs.map(([j, r]) => [j, r.ok && r.scores?.length])).toEqual([
      [0, 1000],
      [1, 1400],
      [2, 1800],
    ]);
  }, 60_000);

  it('scores a run of equal-length jobs (views on its one output) and of unequal ones (copied out of the padding) as each alone', async () => {
    const alone = async (j: number, n: number): Promise<Float32Array> =>
      ((await run(aloneRequest(j, n)))[0]!.jobs[0]![1] as { scores: Float32Array }).scores;
    // a long run first, so the shorter runs after it reuse a row buffer holding its rows
    for (const sizes of [
      [1800, 1800],
      [300, 1000, 600],
      [200, 200, 200],
    ]) {
      const replies = await run(request(sizes.map((candidates) => ({ candidates }))));
      expect(replies).toHaveLength(1);
      for (const [j, r] of replies[0]!.jobs) {
        const got = (r as { scores: Float32Array }).scores;
        const want = await alone(j, sizes[j]!);
        expect(got).toHaveLength(2 * sizes[j]!);
        expect(largestDifference(got, want)).toBeLessThanOrEqual(1e-6);
      }
    }
  }, 60_000);

  it('a batch of one scoring run takes no next batch before it ends (no draining message)', async () => {
    const idleBeforeEnd: boolean[] = [];
    let ended = false;
    let armed = true;
    pool.onIdle(() => {
      if (armed) idleBeforeEnd.push(!ended);
    });
    await pool.run(request([{ candidates: 1500 }, { candidates: 1500 }]), (r) => {
      if (r.last) ended = true;
    });
    armed = false;
    // onIdle fired once, when the batch ended; never while it ran
    expect(idleBeforeEnd).toEqual([false]);
  }, 60_000);

  it('takes the next batch while the last runs of the current one are under way', async () => {
    // Four 3,000-candidate jobs: four scoring runs. The worker says it is draining before its
    // last run(s); the pool then calls onIdle with the batch still unanswered, and takes another.
    const first: RunReply[] = [];
    const second: RunReply[] = [];
    let seenWhenIdle: RunReply[] | undefined;
    let secondDone: Promise<void> | undefined;
    const idleAround: boolean[] = [];
    const secondSeenByFirst: number[] = [];
    let armed = true;
    pool.onIdle(() => {
      if (!armed) return;
      armed = false;
      seenWhenIdle = [...first];
      idleAround.push(pool.idle());
      secondDone = pool.run(request([{ candidates: 3000 }, { candidates: 3000 }]), (r) => second.push(r));
      idleAround.push(pool.idle());
    });
    expect(pool.idle()).toBe(true);
    const firstDone = pool.run(
      request([{ candidates: 3000 }, { candidates: 3000 }, { candidates: 3000 }, { candidates: 3000 }]),
      (r) => {
        first.push(r);
        secondSeenByFirst.push(second.length);
      },
    );
    expect(pool.idle()).toBe(false);
    await firstDone;
    expect(seenWhenIdle).toBeDefined();
    expect(idleAround).toEqual([true, false]);
    // the second batch runs after this one: nothing of it came back before its last reply
    expect(secondSeenByFirst).toEqual([0, 0, 0, 0]);
    expect(seenWhenIdle!.some((r) => r.last)).toBe(false);
    expect(first.at(-1)!.last).toBe(true);
    expect(first.flatMap((r) => r.jobs.map(([j]) => j))).toEqual([0, 1, 2, 3]);
    // The second batch is the worker's now; the pool takes none until it nears its end.
    await secondDone;
    expect(second.map((r) => r.jobs.map(([j]) => j))).toEqual([[0], [1]]);
    expect(second.at(-1)!.last).toBe(true);
    expect(pool.idle()).toBe(true);
    // Same scores as the first batch's jobs 0 and 1 (same features, same candidates).
    for (const j of [0, 1]) {
      const a = (first.flatMap((r) => r.jobs).find(([i]) => i === j)![1] as { scores: Float32Array }).scores;
      const b = (second.flatMap((r) => r.jobs).find(([i]) => i === j)![1] as { scores: Float32Array }).scores;
      expect(b).toEqual(a);
    }
  }, 60_000);
});
