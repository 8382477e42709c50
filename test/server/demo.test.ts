// Out of the box: with no data dir, the server builds the model kit's demo model and snapshot,
// serves them as model `demo`, and removes its temp dir when stopped.
import { access } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startServer, waitFor } from './harness.js';

describe('demo mode', () => {
  it('serves the demo model with no configuration and cleans up on SIGTERM', async () => {
    const server = await startServer([], { LIGHTRANK_DATA_DIR: undefined, LIGHTRANK_MODEL_NAME: undefined });
    try {
      await waitFor(async () => (await server.get('/v2/health/ready')).status === 200, 60_000, 'ready');
      const meta = await server.get('/v2/models/demo');
      expect(meta.status).toBe(200);
      expect(meta.body.parameters.snapshot_rows).toBe(10_000);
      const infer = await server.post('/v2/models/demo/infer', {
        inputs: [
          { name: 'dense', shape: [1, 16], datatype: 'FP32', data: Array(16).fill(0.2) },
          { name: 'categorical', shape: [1, 4], datatype: 'INT64', data: [1, 2, 3, 4] },
        ],
      });
      expect(infer.status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
    }
    const dataDir = server.logs.find((l) => l.msg === 'listening')!.dataDir as string;
    await expect(access(dataDir)).rejects.toThrow(/ENOENT/);
  });
});
