// Free loopback ports for the control plane's listeners. The kernel picks a free port (port 0);
// ports handed out by this process are remembered so two control planes started from the same
// process at once never get the same one.
import { createServer } from 'node:net';

const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() =>
          addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port')),
        );
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('could not find a free loopback port in 20 attempts');
}
