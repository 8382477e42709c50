// Builds the scoring graph for a snapshot with the model kit. The embedding matrix is the graph's
// initializer, so on a GPU the table lives in device memory and only row indices and scores cross
// the bus.
//
// The graph (under 1 KB) names the snapshot's embeddings.bin as external data, and ONNX Runtime
// maps that file when a session is created (one page-cache copy shared by every worker on the
// CPU, no protobuf of the whole matrix to encode, copy and parse per worker).
//
// API:
//   scoringGraphOverFile(dir: string, m: SnapshotManifest) → { bytes: Uint8Array; externalDataDir: string }
//     dir: the snapshot folder (holding embeddings.bin), m: its manifest
//     create the session from `bytes` with session config
//     `session.model_external_initializers_file_folder_path` = externalDataDir
import { resolve } from 'node:path';
import { buildScoringModel } from '../../modelkit/scoring-graph.js';
import { EMBEDDINGS_FILE, type SnapshotManifest } from '../../snapshot/index.js';

export function scoringGraphOverFile(
  dir: string,
  m: SnapshotManifest,
): { bytes: Uint8Array; externalDataDir: string } {
  const bytes = buildScoringModel({
    tasks: m.tasks.length,
    dim: m.dim,
    rows: m.rows,
    dtype: m.dtype,
    table: { location: EMBEDDINGS_FILE },
  });
  return { bytes, externalDataDir: resolve(dir) };
}
