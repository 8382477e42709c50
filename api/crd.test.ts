import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  CRD_FILE,
  rankingModelCrdYaml,
  rankingModelOpenAPISchema,
  toStructural,
  type SchemaNode,
} from './crd.js';
import { REFERENCE_FILE, referenceMarkdown } from './reference.js';

const root = join(import.meta.dirname, '..');

/** Every node of the tree with its path. */
function walk(node: SchemaNode, path = ''): [string, SchemaNode][] {
  const children: [string, SchemaNode][] = [
    ...Object.entries(node.properties ?? {}).map(([k, v]): [string, SchemaNode] => [`${path}.${k}`, v]),
    ...(node.items ? [[`${path}[]`, node.items] as [string, SchemaNode]] : []),
    ...(typeof node.additionalProperties === 'object'
      ? [[`${path}{}`, node.additionalProperties] as [string, SchemaNode]]
      : []),
  ];
  return [[path, node], ...children.flatMap(([p, n]) => walk(n, p))];
}

describe('generated files', () => {
  it(`${CRD_FILE} is what the schema generates (npm run gen)`, () => {
    expect(readFileSync(join(root, CRD_FILE), 'utf8')).toBe(rankingModelCrdYaml());
  });
  it(`${REFERENCE_FILE} is what the schema generates (npm run gen)`, () => {
    expect(readFileSync(join(root, REFERENCE_FILE), 'utf8')).toBe(referenceMarkdown());
  });
});

describe('the CRD schema is structural and bounded', () => {
  const nodes = walk(rankingModelOpenAPISchema()).filter(
    ([p]) => p.startsWith('.spec') || p.startsWith('.status'),
  );

  it('has a type and a description on every node', () => {
    for (const [path, n] of nodes) {
      expect(n.type, path).toBeDefined();
      expect(n.description, path).toBeTruthy();
    }
  });

  it('has no additionalProperties:false, $schema or propertyNames', () => {
    for (const [path, n] of nodes) {
      expect(n.additionalProperties, path).not.toBe(false);
      expect(n.$schema, path).toBeUndefined();
      expect(n.propertyNames, path).toBeUndefined();
    }
  });

  it('bounds every string and list of the spec (CEL cost budget) and formats every integer', () => {
    for (const [path, n] of nodes) {
      if (n.type === 'string' && path.startsWith('.spec')) expect(n.maxLength ?? n.enum, path).toBeDefined();
      if (n.type === 'array') expect(n.maxItems, path).toBeDefined();
      if (n.type === 'integer') expect(['int32', 'int64'], path).toContain(n.format);
    }
  });

  it('keys segments and conditions as map lists', () => {
    const crd = parse(rankingModelCrdYaml());
    const schema = crd.spec.versions[0].schema.openAPIV3Schema;
    expect(schema.properties.spec.properties.segments['x-kubernetes-list-map-keys']).toEqual(['name']);
    expect(schema.properties.status.properties.conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
    expect(crd.spec.names.shortNames).toEqual(['rkm']);
  });
});

describe('toStructural', () => {
  it('refuses a node without a type', () => {
    expect(() =>
      toStructural({ description: 'x', properties: { a: { description: 'a' } }, type: 'object' }, '.x'),
    ).toThrow(/\.x\.a: every node of a structural schema needs a type/);
  });
  it('refuses a field without a description', () => {
    expect(() =>
      toStructural({ description: 'x', type: 'object', properties: { a: { type: 'string' } } }, '.x'),
    ).toThrow(/\.x\.a: every field needs a description/);
  });
  it('refuses unions', () => {
    expect(() =>
      toStructural({ description: 'x', anyOf: [{ type: 'string' }, { type: 'boolean' }] }, '.x'),
    ).toThrow(/unions/);
  });
  it('drops safe-integer bounds and picks the int format', () => {
    expect(
      toStructural(
        { description: 'x', type: 'integer', minimum: -(2 ** 53 - 1), maximum: 2 ** 53 - 1 },
        '.x',
      ),
    ).toEqual({
      description: 'x',
      type: 'integer',
      format: 'int64',
    });
    expect(toStructural({ description: 'x', type: 'integer', minimum: 0, maximum: 10 }, '.x').format).toBe(
      'int32',
    );
  });
});
