// What a V8 heap snapshot (.heapsnapshot, as `node --heapsnapshot-signal` or v8.writeHeapSnapshot
// write it) holds, summed by kind of object: self size and count per constructor, with plain
// objects told apart by their property names (a cached Kubernetes object's `{apiVersion, kind,
// metadata, …}`, a managedFields entry's `{apiVersion, fieldsType, fieldsV1, …}`), strings and
// arrays by type. Self sizes only (no dominator tree): enough to see which shape of data fills a
// heap, not who holds it.
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface HeapRow {
  key: string;
  count: number;
  bytes: number;
}

/** Rows by self size, largest first, and the total self size. */
export function heapRows(file: string): { rows: HeapRow[]; total: number } {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const { node_fields, node_types, edge_fields, edge_types } = snap.snapshot.meta;
  const nf = node_fields.length;
  const ef = edge_fields.length;
  const [typeI, nameI, sizeI, edgeCountI] = ['type', 'name', 'self_size', 'edge_count'].map((f) =>
    node_fields.indexOf(f),
  ) as [number, number, number, number];
  const [eTypeI, eNameI] = ['type', 'name_or_index'].map((f) => edge_fields.indexOf(f)) as [number, number];
  const nodeTypes = node_types[0];
  const propertyEdge = edge_types[0].indexOf('property');
  const byKey = new Map<string, HeapRow>();
  let total = 0;
  let edge = 0;
  for (let n = 0; n < snap.nodes.length; n += nf) {
    const type = nodeTypes[snap.nodes[n + typeI]!]!;
    const name = snap.strings[snap.nodes[n + nameI]!]!;
    const size = snap.nodes[n + sizeI]!;
    const edges = snap.nodes[n + edgeCountI]!;
    let key: string;
    if (type === 'object' && name === 'Object') {
      const props: string[] = [];
      for (let e = edge; e < edge + edges * ef; e += ef)
        if (snap.edges[e + eTypeI] === propertyEdge) {
          const prop = snap.strings[snap.edges[e + eNameI]!]!;
          if (prop !== '__proto__') props.push(prop);
        }
      key = `Object{${props.sort().slice(0, 6).join(',')}${props.length > 6 ? ',…' : ''}}`;
    } else if (type === 'object' || type === 'closure' || type === 'native') key = `${type} ${name}`;
    else key = `(${type})`;
    edge += edges * ef;
    total += size;
    const row = byKey.get(key) ?? { key, count: 0, bytes: 0 };
    row.count++;
    row.bytes += size;
    byKey.set(key, row);
  }
  return { rows: [...byKey.values()].sort((a, b) => b.bytes - a.bytes), total };
}

/** The `top` largest rows as report lines. */
export function summarizeHeap(file: string, top: number): string[] {
  const { rows, total } = heapRows(file);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  return [
    `  heap by kind (self sizes, ${mib(total)} in all):`,
    ...rows
      .slice(0, top)
      .map((r) => `    ${mib(r.bytes).padStart(10)} ${String(r.count).padStart(9)} × ${r.key.slice(0, 110)}`),
  ];
}
