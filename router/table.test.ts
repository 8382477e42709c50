import { describe, expect, it } from 'vitest';
import { modelNameFromPath } from './app.js';
import { TableError, parseTable, selectSegment } from './table.js';

const good = {
  version: 1,
  revision: 'ns/demo@7',
  models: {
    demo: {
      defaultSegment: 'standard',
      segments: {
        standard: {
          backends: [
            { track: 'stable', url: 'http://demo-standard-stable.ns.svc:8080', weight: 90 },
            { track: 'canary', url: 'http://demo-standard-canary.ns.svc:8080', weight: 10 },
          ],
        },
        shopping: { backends: [{ track: 'stable', url: 'http://10.0.0.7', weight: 100 }] },
      },
    },
  },
};

function withModel(patch: object): string {
  return JSON.stringify({ ...good, models: { demo: { ...good.models.demo, ...patch } } });
}

function backends(list: object[]): string {
  return withModel({ segments: { standard: { backends: list } }, defaultSegment: 'standard' });
}

describe('parseTable', () => {
  it('compiles a valid table with defaults for the headers', () => {
    const t = parseTable(JSON.stringify(good));
    const demo = t.models.get('demo')!;
    expect(demo.header).toBe('x-lightrank-segment');
    expect(demo.stickyHeader).toBe('x-lightrank-sticky-key');
    expect(demo.defaultSegment.name).toBe('standard');
    const stable = demo.segments.get('standard')!.backends[0]!;
    expect(stable).toMatchObject({ host: 'demo-standard-stable.ns.svc', port: 8080, weight: 90 });
    expect(demo.segments.get('shopping')!.backends[0]).toMatchObject({ port: 80, origin: '10.0.0.7:80' });
    expect(t.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(t.spec.revision).toBe('ns/demo@7');
  });

  it('accepts YAML and lowercases header names', () => {
    const yaml = `version: 1
models:
  demo:
    header: X-Traffic-Segment
    defaultSegment: a
    segments:
      a: { backends: [{ track: stable, url: "http://a:1", weight: 100 }] }
`;
    expect(parseTable(yaml).models.get('demo')!.header).toBe('x-traffic-segment');
  });

  it.each([
    [
      'weights that do not sum to 100',
      backends([{ track: 'stable', url: 'http://a:1', weight: 90 }]),
      /sum to 100, got 90/,
    ],
    [
      'a track twice',
      backends([
        { track: 'stable', url: 'http://a:1', weight: 50 },
        { track: 'stable', url: 'http://b:1', weight: 50 },
      ]),
      /each track may appear once/,
    ],
    ['a weight over 100', backends([{ track: 'stable', url: 'http://a:1', weight: 101 }]), /weight/],
    [
      'an https backend',
      backends([{ track: 'stable', url: 'https://a:1', weight: 100 }]),
      /http:\/\/ origin/,
    ],
    [
      'a backend with a path',
      backends([{ track: 'stable', url: 'http://a:1/x', weight: 100 }]),
      /without path/,
    ],
    ['an unknown track', backends([{ track: 'blue', url: 'http://a:1', weight: 100 }]), /track/],
    [
      'an unknown default segment',
      withModel({ defaultSegment: 'nope' }),
      /defaultSegment: "nope" is not one of/,
    ],
    ['an unknown field', withModel({ weights: {} }), /weights/],
    ['another format version', JSON.stringify({ ...good, version: 2 }), /version/],
    [
      'a model name that is no DNS name',
      JSON.stringify({ version: 1, models: { Demo_1: good.models.demo } }),
      /Demo_1/,
    ],
    ['malformed JSON', '{"version": 1,', /not valid JSON\/YAML/],
  ])('refuses %s, naming the field', (_what, content, message) => {
    expect(() => parseTable(content)).toThrow(TableError);
    expect(() => parseTable(content)).toThrow(message);
  });
});

describe('selectSegment', () => {
  const demo = parseTable(JSON.stringify(good)).models.get('demo')!;
  it('takes the named segment, else the default', () => {
    expect(selectSegment(demo, 'shopping').name).toBe('shopping');
    expect(selectSegment(demo, undefined).name).toBe('standard');
    expect(selectSegment(demo, 'unknown').name).toBe('standard');
    expect(selectSegment(demo, ['shopping', 'standard']).name).toBe('standard');
  });
});

describe('modelNameFromPath', () => {
  it('finds the model in both server APIs and nowhere else', () => {
    expect(modelNameFromPath('/v2/models/demo/infer')).toBe('demo');
    expect(modelNameFromPath('/v2/models/demo')).toBe('demo');
    expect(modelNameFromPath('/v2/models/demo?x=1')).toBe('demo');
    expect(modelNameFromPath('/v1/models/shop.v2/rank')).toBe('shop.v2');
    expect(modelNameFromPath('/v2/models/a%2Db/ready')).toBe('a-b');
    expect(modelNameFromPath('/v2/health/ready')).toBeUndefined();
    expect(modelNameFromPath('/v3/models/demo/infer')).toBeUndefined();
    expect(modelNameFromPath('/v2/models/%E0%A4%A/infer')).toBeUndefined();
  });
});
