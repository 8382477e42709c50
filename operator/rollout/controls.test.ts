import { describe, expect, it } from 'vitest';
import type { RankingModel } from '../../api/rankingmodel.js';
import { readControls } from './controls.js';

const model = (annotations: Record<string, string>) =>
  ({ metadata: { name: 'm', annotations } }) as unknown as RankingModel;

describe('manual controls', () => {
  it('reads nothing from a model without annotations', () => {
    expect(readControls(model({}), 'standard')).toEqual({
      paused: false,
      promote: undefined,
      abort: false,
      retry: false,
    });
  });
  it('applies true/all to every segment and a list only to the segments named', () => {
    expect(readControls(model({ 'lightrank.dev/paused': 'true' }), 'standard').paused).toBe(true);
    expect(readControls(model({ 'lightrank.dev/abort': 'shopping,other' }), 'standard').abort).toBe(false);
    expect(readControls(model({ 'lightrank.dev/abort': 'shopping,other' }), 'shopping').abort).toBe(true);
    expect(readControls(model({ 'lightrank.dev/paused': 'false' }), 'standard').paused).toBe(false);
  });
  it('tells promote=full from promote=step', () => {
    expect(readControls(model({ 'lightrank.dev/promote': 'full' }), 's').promote).toBe('full');
    expect(readControls(model({ 'lightrank.dev/promote': 'true' }), 's').promote).toBe('full');
    expect(readControls(model({ 'lightrank.dev/promote': 'step' }), 's').promote).toBe('step');
    expect(readControls(model({ 'lightrank.dev/promote': 'step:s' }), 's').promote).toBe('step');
    expect(readControls(model({ 'lightrank.dev/promote': 'step:t' }), 's').promote).toBeUndefined();
  });
});
