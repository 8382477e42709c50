// Worker bootstrap used only when the server runs from TypeScript sources (tsx, vitest):
// registers tsx's loader inside the worker thread, then loads the TypeScript worker named in
// workerData.entry. Compiled builds (dist/) start worker.js directly and never load this file.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
