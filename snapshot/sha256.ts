// Streaming sha256 of a file (snapshot matrices run to hundreds of MB: never read whole), computed
// in a worker thread: hashing 500 MB takes about a second of CPU, which would otherwise hold the
// caller's event loop (a scoring server answering requests, a sidecar serving its probes).
//
// API:
//   sha256File(path: string): Promise<{ sha256: string; bytes: number }>
//     rejects with the file system's error (its `code`, e.g. ENOENT, kept)
import { Worker } from 'node:worker_threads';

/** The worker's code (CommonJS, evaluated: runs the same from sources and from dist/). */
const HASHER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { createReadStream } = require('node:fs');
(async () => {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(workerData, { highWaterMark: 1 << 20 })) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
})().then(
  (result) => parentPort.postMessage({ result }),
  (e) => parentPort.postMessage({ error: { message: e.message, code: e.code, syscall: e.syscall } }),
);
`;

type Reply =
  | { result: { sha256: string; bytes: number } }
  | { error: { message: string; code?: string; syscall?: string } };

export function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(HASHER, { eval: true, workerData: path });
    let settled = false;
    worker.once('message', (reply: Reply) => {
      settled = true;
      void worker.terminate();
      if ('result' in reply) return resolve(reply.result);
      reject(Object.assign(new Error(reply.error.message), reply.error));
    });
    worker.once('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`sha256 of ${path}: hashing thread exited (code ${code})`));
    });
  });
}
