// Writes the files generated from the RankingModel zod schema (api/rankingmodel.ts):
//   crds/lightrank.dev_rankingmodels.yaml   the CustomResourceDefinition
//   docs/reference.md                       the field reference
// Usage: tsx scripts/gen-crd.ts [--check]   (--check: write nothing, exit 1 if a file is stale)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, rankingModelCrdYaml } from '../api/crd.js';
import { REFERENCE_FILE, referenceMarkdown } from '../api/reference.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const outputs: [string, string][] = [
  [CRD_FILE, rankingModelCrdYaml()],
  [REFERENCE_FILE, referenceMarkdown()],
];

let stale = 0;
for (const [file, content] of outputs) {
  const path = join(root, file);
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === content) continue;
  if (check) {
    stale++;
    process.stderr.write(`${file} is out of date: run npm run gen\n`);
  } else {
    writeFileSync(path, content);
    process.stdout.write(`wrote ${file}\n`);
  }
}
process.exitCode = stale ? 1 : 0;
