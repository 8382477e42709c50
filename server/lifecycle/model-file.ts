// Reads what the server needs to know about a query-tower ONNX file before serving it: the
// lightrank metadata (docs/internals.md "Model files on storage", read by the model kit), and
// refuses a file that is not a lightrank query tower or whose sha256 differs from model.json.
//
// API:
//   interface QueryTowerInfo { path, sha256, version, fingerprint, tasks, dim, numDense, numCategorical }
//   readQueryTower(modelDir: string, fallbackVersion: string) → Promise<QueryTowerInfo>   throws LoadError
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parseTowerMetadata, type TowerMetadata } from '../../modelkit/metadata.js';
import { LoadError } from './load-error.js';

export const MODEL_FILE = 'model.onnx';
export const MODEL_META_FILE = 'model.json';

export interface QueryTowerInfo {
  path: string;
  sha256: string;
  version: string;
  fingerprint: string;
  tasks: string[];
  dim: number;
  numDense: number;
  numCategorical: number;
}

const modelJson = z.object({
  version: z.string().min(1),
  sha256: z.string(),
  towerFingerprint: z.string().min(1),
});

export async function readQueryTower(modelDir: string, fallbackVersion: string): Promise<QueryTowerInfo> {
  const path = join(modelDir, MODEL_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new LoadError('model', 'missing_file', `cannot read ${path}: ${(e as Error).message}`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let meta: z.infer<typeof modelJson> | undefined;
  try {
    meta = modelJson.parse(JSON.parse(await readFile(join(modelDir, MODEL_META_FILE), 'utf8')));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT')
      throw new LoadError('model', 'manifest', `${MODEL_META_FILE} is invalid: ${(e as Error).message}`);
  }
  if (meta && meta.sha256 !== sha256) {
    throw new LoadError(
      'model',
      'checksum',
      `${path} has sha256 ${sha256}, ${MODEL_META_FILE} says ${meta.sha256}`,
    );
  }
  let tower: TowerMetadata;
  try {
    tower = parseTowerMetadata(bytes);
  } catch (e) {
    throw new LoadError('model', 'format', `${path}: ${(e as Error).message}`);
  }
  if (tower.tower !== 'query')
    throw new LoadError('model', 'format', `${path} is a ${tower.tower} tower, not a query tower`);
  if (meta && meta.towerFingerprint !== tower.fingerprint) {
    throw new LoadError(
      'model',
      'fingerprint',
      `${MODEL_META_FILE} says fingerprint ${meta.towerFingerprint}, the ONNX file carries ${tower.fingerprint}`,
    );
  }
  return {
    path,
    sha256,
    version: meta?.version ?? fallbackVersion,
    fingerprint: tower.fingerprint,
    tasks: tower.tasks,
    dim: tower.dim,
    numDense: tower.numDense,
    numCategorical: tower.numCategorical,
  };
}
