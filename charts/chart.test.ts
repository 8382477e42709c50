// The chart's static promises, checked without a cluster: its crds/ folder holds exactly the
// CRD generated from the schema (crds/, written by scripts/gen-crd.ts), and it installs the
// release of this package. After regenerating the CRD, copy it:
//   cp crds/lightrank.dev_rankingmodels.yaml charts/lightrank/crds/
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = new URL('../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

describe('charts/lightrank', () => {
  it('ships the generated CRD unchanged in its crds/ folder', () => {
    const generated = readdirSync(new URL('crds/', root)).filter((f) => f.endsWith('.yaml'));
    const shipped = readdirSync(new URL('charts/lightrank/crds/', root)).filter((f) => f.endsWith('.yaml'));
    expect(shipped).toEqual(generated);
    for (const file of generated) {
      expect(
        read(`charts/lightrank/crds/${file}`) === read(`crds/${file}`),
        `charts/lightrank/crds/${file} differs from crds/${file}: run cp crds/${file} charts/lightrank/crds/`,
      ).toBe(true);
    }
  });

  it('installs this package version (appVersion = package.json version)', () => {
    const chart = parse(read('charts/lightrank/Chart.yaml')) as { appVersion: string };
    const pkg = JSON.parse(read('package.json')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
  });
});
