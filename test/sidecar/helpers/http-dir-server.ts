// A real HTTP server on 127.0.0.1 serving a directory, as a static web server or a bucket's
// HTTP endpoint would: GET with a strong ETag (size + mtime), If-None-Match → 304, 404 for what
// is missing. It can be stopped and restarted on the same port to test a source going down.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export class HttpDirServer {
  private server: Server | undefined;
  port = 0;
  requests = 0;

  constructor(readonly root: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.requests++;
      const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const file = path.join(this.root, path.normalize(rel));
      if (!file.startsWith(this.root + path.sep)) return void res.writeHead(403).end();
      stat(file).then(
        (info) => {
          if (!info.isFile()) return void res.writeHead(404).end();
          const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
          if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
          res.writeHead(200, { etag, 'content-length': info.size });
          createReadStream(file).pipe(res);
        },
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
