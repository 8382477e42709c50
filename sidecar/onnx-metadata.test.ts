import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelConfig } from '../modelkit/config.js';
import { buildTowerModel } from '../modelkit/tower-graph.js';
import { generateTowerWeights } from '../modelkit/weights.js';
import { readOnnxMetadata } from './onnx-metadata.js';

describe('readOnnxMetadata', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lightrank-onnx-meta-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads metadata_props of a real tower model without decoding its graph', async () => {
    const w = generateTowerWeights(modelConfig({ seed: 3, dim: 8 }), 'query');
    const file = path.join(dir, 'query.onnx');
    await writeFile(file, buildTowerModel(w, 'abc123'));
    const props = await readOnnxMetadata(file);
    expect(props.get('lightrank.fingerprint')).toBe('abc123');
    expect(props.get('lightrank.tower')).toBe('query');
    expect(props.get('lightrank.dim')).toBe('8');
  });

  it('refuses a file that is not a protobuf message', async () => {
    const file = path.join(dir, 'junk.onnx');
    await writeFile(file, Buffer.from('this is not an onnx model at all\xff\xff'));
    await expect(readOnnxMetadata(file)).rejects.toThrow(/not an ONNX model/);
  });
});
