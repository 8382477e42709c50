// The model kit, in one import: `import { buildDemoBundle, ... } from '../modelkit/index.js'`.
// Each module's header documents its API: config.ts, weights.ts, fingerprint.ts, tower-graph.ts,
// scoring-graph.ts, scoring-files.ts, reference.ts, metadata.ts, catalogue.ts, bundle.ts, onnx.ts.
export * from './config.js';
export * from './weights.js';
export * from './fingerprint.js';
export * from './tower-graph.js';
export * from './scoring-graph.js';
export * from './scoring-files.js';
export * from './reference.js';
export * from './metadata.js';
export * from './catalogue.js';
export * from './bundle.js';
