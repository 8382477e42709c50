// Builds the scoring graph for a snapshot with the model kit (the embedding matrix becomes its
// initializer, so on a GPU the table lives in device memory and only row indices and scores
// cross the bus) and puts the bytes in a SharedArrayBuffer, so every worker reads one copy.
//
// API: buildScoringGraph(snapshot: Snapshot) → Uint8Array (SharedArrayBuffer-backed)
import { buildScoringModel } from '../../modelkit/scoring-graph.js';
import type { Snapshot } from '../../snapshot/index.js';

export function buildScoringGraph(snapshot: Snapshot): Uint8Array {
  const table = snapshot.embeddings;
  if (!table) throw new Error(`snapshot ${snapshot.dir} was opened without its matrix`);
  const bytes = buildScoringModel({
    tasks: snapshot.tasks.length,
    dim: snapshot.dim,
    rows: snapshot.rows,
    dtype: snapshot.dtype,
    table,
  });
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
  shared.set(bytes);
  return shared;
}
