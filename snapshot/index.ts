// The embedding snapshot format, in one import: `import { openSnapshot, ... } from '../snapshot/index.js'`.
// See each module's header for its API: format.ts (names, manifest), errors.ts (SnapshotError
// causes), writer.ts, reader.ts, validate.ts, id-index.ts, float16.ts, sha256.ts.
export * from './blocks.js';
export * from './errors.js';
export * from './format.js';
export * from './float16.js';
export * from './sha256.js';
export * from './id-index.js';
export * from './writer.js';
export * from './reader.js';
export * from './validate.js';
export * from './parts.js';
