// Reads a tower's lightrank metadata back from an ONNX file (the server checks the query
// tower's fingerprint against the snapshot's; the snapshot command reads the item tower's).
//
// API:
//   interface TowerMetadata { tower: 'query'|'item'; fingerprint: string; tasks: string[]; dim: number;
//     inputs: string[]; outputs: string[]; numDense: number; numCategorical: number;
//     props: Record<string, string> /* all metadata_props */ }
//   parseTowerMetadata(model: Uint8Array): TowerMetadata      throws Error naming the bad key
//   readTowerMetadata(path: string): Promise<TowerMetadata>
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';

export interface TowerMetadata {
  tower: 'query' | 'item';
  fingerprint: string;
  tasks: string[];
  dim: number;
  inputs: string[];
  outputs: string[];
  numDense: number;
  numCategorical: number;
  props: Record<string, string>;
}

export function parseTowerMetadata(model: Uint8Array): TowerMetadata {
  let props: Record<string, string>;
  try {
    const decoded = onnxProto.onnx.ModelProto.decode(model);
    props = Object.fromEntries(decoded.metadataProps.map((p) => [p.key, p.value]));
  } catch (e) {
    throw new Error(`not an ONNX model: ${(e as Error).message}`);
  }
  const get = (key: string): string => {
    const v = props[key];
    if (v === undefined || v === '') throw new Error(`ONNX metadata has no ${key}`);
    return v;
  };
  const int = (key: string): number => {
    const n = Number(get(key));
    if (!Number.isInteger(n) || n < 0) throw new Error(`ONNX metadata ${key}=${props[key]} is not a count`);
    return n;
  };
  const strings = (key: string): string[] => {
    let v: unknown;
    try {
      v = JSON.parse(get(key));
    } catch {
      throw new Error(`ONNX metadata ${key} is not JSON`);
    }
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
      throw new Error(`ONNX metadata ${key} is not a JSON array of strings`);
    }
    return v as string[];
  };
  const tower = get('lightrank.tower');
  if (tower !== 'query' && tower !== 'item') throw new Error(`ONNX metadata lightrank.tower=${tower}`);
  return {
    tower,
    fingerprint: get('lightrank.fingerprint'),
    tasks: strings('lightrank.tasks'),
    dim: int('lightrank.dim'),
    inputs: strings('lightrank.inputs'),
    outputs: strings('lightrank.outputs'),
    numDense: int('lightrank.numDense'),
    numCategorical: int('lightrank.numCategorical'),
    props,
  };
}

export async function readTowerMetadata(path: string): Promise<TowerMetadata> {
  const bytes = await readFile(path);
  try {
    return parseTowerMetadata(bytes);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}
