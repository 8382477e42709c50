// The tower fingerprint: identifies a query/item tower pair, so a query tower is only ever
// served with snapshots its paired item tower produced. Derived from the model config (seed
// included) and the item tower's weights; 32 hex chars (128 bits of sha256, fits a k8s label).
//
// API:
//   towerFingerprint(config: ModelKitConfig, item: TowerWeights): string
import { createHash } from 'node:crypto';
import type { ModelKitConfig } from './config.js';
import type { TowerWeights } from './weights.js';

export function towerFingerprint(config: ModelKitConfig, item: TowerWeights): string {
  if (item.tower !== 'item') throw new Error('towerFingerprint: needs the item tower weights');
  const h = createHash('sha256');
  h.update(JSON.stringify(config));
  const add = (a: Float32Array) => h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  add(item.table);
  for (const layers of item.experts) {
    for (const l of layers) {
      for (const v of Object.values(l)) if (v instanceof Float32Array) add(v);
    }
  }
  for (const list of [...item.gates, ...item.towers]) {
    for (const l of list) {
      add(l.w);
      add(l.b);
    }
  }
  return h.digest('hex').slice(0, 32);
}
