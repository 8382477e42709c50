// How much slower ONNX Runtime runs the reference towers after the thread has been idle — the
// state an inference worker is in at low load, between requests — than back to back, as the
// in-process floor of bench/server.ts runs them. One thread, batch 1, 2,000 candidates, the
// server's own file-mapped scoring graph; before each request the thread either goes straight on
// (hot), sleeps 1 ms (setTimeout), blocks 1 ms (Atomics.wait, as a thread waiting for work does),
// spins 1 ms without touching memory, or reads 32 MB (evicting its own caches, no sleep). The
// modes take turns in rounds (the machine is noisy); each figure is the median over the rounds.
//
//   npm run bench:ort-idle [-- ROUNDS [MS]]   (default 5 rounds, 600 ms per mode per round)
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildDemoBundle } from '../modelkit/bundle.js';
import { generateFeatures } from '../modelkit/catalogue.js';
import { SCORING_INPUTS } from '../modelkit/scoring-graph.js';
import { scoringGraphOverFile } from '../server/lifecycle/scoring-graph.js';

const ROUNDS = Number(process.argv[2] ?? 5);
const MS = Number(process.argv[3] ?? 600);
const CANDIDATES = 2000;

const junk = new Float64Array(4 << 20);
const blocker = new Int32Array(new SharedArrayBuffer(4));
const MODES: Record<string, () => Promise<void> | void> = {
  hot: () => undefined,
  'sleep 1 ms': () => new Promise((r) => setTimeout(r, 1)),
  'Atomics.wait 1 ms': () => void Atomics.wait(blocker, 0, 0, 1),
  'spin 1 ms': () => {
    const end = performance.now() + 1;
    while (performance.now() < end);
  },
  'read 32 MB': () => {
    let s = 0;
    for (let i = 0; i < junk.length; i += 8) s += junk[i]!;
    junk[0] = s;
  },
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'lightrank-ort-idle-'));
  try {
    const bundle = await buildDemoBundle({ dir: root, items: 20_000 });
    const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' as const };
    const query = await ort.InferenceSession.create(bundle.queryModel, opts);
    const graph = scoringGraphOverFile(bundle.snapshotDir, bundle.manifest);
    const scoring = await ort.InferenceSession.create(graph.bytes, {
      ...opts,
      extra: { session: { model_external_initializers_file_folder_path: graph.externalDataDir } },
    });
    const { tasks, dim, rows } = bundle.manifest;
    const { dense, categorical } = generateFeatures({ numDense: 16, numCategorical: 4 }, 16, 9);
    const indices = Array.from({ length: 16 }, (_, b) =>
      BigInt64Array.from({ length: CANDIDATES }, (_, i) => BigInt((i * 7919 + b * 101) % rows)),
    );

    const perMode = new Map<string, { query: number[]; scoring: number[] }>();
    for (let round = 0; round < ROUNDS; round++) {
      const names = Object.keys(MODES);
      const order = names.map((_, i) => names[(i + round) % names.length]!);
      for (const mode of order) {
        const before = MODES[mode]!;
        let q = 0;
        let s = 0;
        let n = 0;
        const end = performance.now() + MS;
        while (performance.now() < end) {
          const b = n % 16;
          await before();
          const t0 = performance.now();
          const out = await query.run({
            dense: new ort.Tensor('float32', dense.subarray(b * 16, b * 16 + 16), [1, 16]),
            categorical: new ort.Tensor('int64', categorical.subarray(b * 4, b * 4 + 4), [1, 4]),
          });
          const t1 = performance.now();
          await scoring.run({
            [SCORING_INPUTS.query]: new ort.Tensor('float32', out.query!.data as Float32Array, [
              1,
              tasks.length,
              dim,
            ]),
            [SCORING_INPUTS.rows]: new ort.Tensor('int64', indices[b]!, [1, CANDIDATES]),
          });
          q += t1 - t0;
          s += performance.now() - t1;
          n++;
        }
        const m = perMode.get(mode) ?? { query: [], scoring: [] };
        m.query.push((q / n) * 1000);
        m.scoring.push((s / n) * 1000);
        perMode.set(mode, m);
      }
    }

    console.log(
      `machine: ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)}; ${ROUNDS} rounds × ${MS} ms per mode, medians`,
    );
    console.log('before each request      query tower µs  scoring µs  both µs  × hot');
    const hot = perMode.get('hot')!;
    const hotBoth = median(hot.query) + median(hot.scoring);
    for (const [mode, m] of perMode) {
      const both = median(m.query) + median(m.scoring);
      console.log(
        `${mode.padEnd(22)} ${median(m.query).toFixed(0).padStart(15)} ${median(m.scoring).toFixed(0).padStart(11)} ${both.toFixed(0).padStart(8)} ${(both / hotBoth).toFixed(2).padStart(6)}`,
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
