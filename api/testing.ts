// Valid RankingModel specs for tests (unit and cluster): small, explicit, easy to break one field.
import type { RankingModelSpecInput } from './rankingmodel.js';

export const SHA_A = 'a'.repeat(64);
export const SHA_B = 'b'.repeat(64);

/** A valid spec with one default segment; every field not given here is left to the defaults. */
export function minimalSpec(): RankingModelSpecInput {
  return {
    model: {
      uri: 's3://models/ranker/v1/query.onnx',
      sha256: SHA_A,
      version: 'v1',
      towerFingerprint: 'fp-1',
      tasks: ['ctr', 'good_click'],
    },
    snapshot: { uri: 's3://snapshots/ranker' },
    segments: [{ name: 'main', match: { default: true } }],
  };
}

/** A valid spec with standard + shopping segments, shopping with its own model and snapshot. */
export function twoSegmentSpec(): RankingModelSpecInput {
  return {
    ...minimalSpec(),
    segments: [
      { name: 'standard', replicas: 2, match: { default: true } },
      {
        name: 'shopping',
        match: { headerValues: ['shopping', 'shop'] },
        model: {
          uri: 'https://models.example.com/shopping/v7.onnx',
          sha256: SHA_B,
          version: 'v7',
          towerFingerprint: 'fp-shop',
          tasks: ['ctr'],
        },
        snapshot: { uri: 'file:///var/snapshots/shopping', pollIntervalSeconds: 10 },
      },
    ],
  };
}

/** A valid spec whose snapshot is built on the cluster from an S3 catalogue (spec.snapshot.build). */
export function builtSpec(): RankingModelSpecInput {
  const spec = minimalSpec();
  spec.model!.itemTower = { uri: 's3://models/ranker/v1/item.onnx', sha256: SHA_B };
  spec.snapshot = {
    uri: 's3://snapshots/ranker',
    build: { catalogue: { uri: 's3://catalogue/items' }, shards: 4 },
  };
  return spec;
}
