// FastHistogram against prom-client's own Histogram: the same observations in two registries give
// the same exposition text and the same JSON, through bounds, values above the last bucket, several
// label sets and a reset; bad labels and values are refused the way prom-client refuses them.
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastHistogram } from './fast-histogram.js';

const config = {
  name: 'lightrank_test_seconds',
  help: 'a test histogram',
  labelNames: ['model', 'stage'],
  buckets: [0.000025, 0.001, 0.01, 0.1, 0.5, 1, 2.5], // sorted: prom-client takes them as given
};

function pair() {
  const reference = new Registry();
  const ours = new Registry();
  const histogram = new Histogram({ ...config, registers: [reference] });
  const fast = new FastHistogram({ ...config, registers: [ours] });
  return { reference, ours, histogram, fast };
}

describe('FastHistogram', () => {
  it('exports what prom-client exports for the same observations', async () => {
    const { reference, ours, histogram, fast } = pair();
    expect(await ours.metrics()).toBe(await reference.metrics()); // nothing observed yet
    const sets = [
      { model: 'demo', stage: 'decode' },
      { model: 'demo', stage: 'scoring' },
      { stage: 'queue', model: 'other' }, // key order differs from labelNames
    ];
    const children = sets.map((l) => fast.child(l));
    let x = 12345;
    const values = [0, 0.000025, 0.001, 0.5, 2.5, 3, 1e9, 0.25];
    for (let i = 0; i < 2000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      values.push((x / 2 ** 31) ** 4 * 3);
    }
    values.forEach((v, i) => {
      const k = i % 2 === 0 ? 0 : i % 3 === 0 ? 2 : 1;
      histogram.observe(sets[k]!, v);
      children[k]!.observe(v);
    });
    const text = await ours.metrics();
    expect(text).toBe(await reference.metrics());
    expect(text).toContain('lightrank_test_seconds_bucket{le="+Inf",model="demo",stage="decode"}');
    expect(await ours.getMetricsAsJSON()).toEqual(await reference.getMetricsAsJSON());

    reference.resetMetrics();
    ours.resetMetrics();
    children[1]!.observe(0.2);
    histogram.observe(sets[1]!, 0.2);
    expect(await ours.metrics()).toBe(await reference.metrics());
  });

  it('refuses labels it was not declared with, a missing one, and values that are not finite', () => {
    const { fast, histogram } = pair();
    expect(() => fast.child({ model: 'demo', stage: 'x', pod: 'p' })).toThrow('unknown label "pod"');
    expect(() => fast.child({ model: 'demo' })).toThrow('label "stage" missing');
    const child = fast.child({ model: 'demo', stage: 'x' });
    for (const bad of [NaN, Infinity]) {
      expect(() => child.observe(bad)).toThrow(TypeError);
      expect(() => histogram.observe({ model: 'demo', stage: 'x' }, bad)).toThrow(TypeError);
    }
  });
});
