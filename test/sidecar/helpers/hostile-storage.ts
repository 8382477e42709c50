// A storage server that misbehaves on purpose, for the sidecar's hostile-storage tests: a real
// node:http server on 127.0.0.1 that serves a directory as HttpDirServer does (ETags, 304, 404)
// except for the paths given a misbehaviour with `on(path, handler)`. The handlers below are the
// ways storage (or a proxy or CDN in front of it) goes wrong: redirects off-origin or in loops, a
// 200 with an HTML error page, a Content-Length that lies either way, an endless body, a body that
// stops mid-way (hanging or hanging up), one that trickles, a huge object, a LATEST that names a
// new version at every read. Every handler stops writing when the client goes away, and the
// server counts the body bytes it wrote per path, so a test can show a reader stopped early.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface HostileContext {
  /** The file under the root this path names (it may not exist). */
  file: string;
  /** Serves the file (or another one) normally (ETag, 304, 404). */
  serveFile(other?: string): void;
  /** Adds `n` to the body bytes written for this path. */
  sent(n: number): void;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: HostileContext) => void;

export interface RecordedRequest {
  path: string;
  headers: IncomingHttpHeaders;
}

export class HostileStorage {
  private server: Server | undefined;
  private readonly overrides: { match: string | RegExp; handler: Handler }[] = [];
  port = 0;
  readonly requests: RecordedRequest[] = [];
  /** Body bytes written per path (served files and misbehaviours alike). */
  readonly bytesSent = new Map<string, number>();

  constructor(readonly root: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Misbehaves on `match` (a path like `/snap/v3/embeddings.bin`, or a pattern) until `clear`. */
  on(match: string | RegExp, handler: Handler): this {
    this.overrides.unshift({ match, handler });
    return this;
  }

  /** Serves `match` normally again (every override when no argument). */
  clear(match?: string | RegExp): void {
    for (let i = this.overrides.length - 1; i >= 0; i--) {
      if (match === undefined || String(this.overrides[i]!.match) === String(match))
        this.overrides.splice(i, 1);
    }
  }

  sentFor(pathname: string): number {
    return this.bytesSent.get(pathname) ?? 0;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      this.requests.push({ path: pathname, headers: req.headers });
      const rel = decodeURIComponent(pathname);
      const file = path.join(this.root, path.normalize(rel));
      const ctx: HostileContext = {
        file,
        serveFile: (other) => this.serveFile(req, res, other ?? file, pathname),
        sent: (n) => this.bytesSent.set(pathname, this.sentFor(pathname) + n),
      };
      const override = this.overrides.find(({ match }) =>
        typeof match === 'string' ? match === pathname : match.test(pathname),
      );
      if (override) return override.handler(req, res, ctx);
      if (!file.startsWith(this.root + path.sep)) return void res.writeHead(403).end();
      ctx.serveFile();
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

  private serveFile(req: IncomingMessage, res: ServerResponse, file: string, pathname: string): void {
    stat(file).then(
      (info) => {
        if (!info.isFile()) return void res.writeHead(404).end();
        const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
        if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
        res.writeHead(200, { etag, 'content-length': info.size });
        const body = createReadStream(file);
        body.on('data', (c: Buffer | string) =>
          this.bytesSent.set(pathname, this.sentFor(pathname) + c.length),
        );
        body.pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  }
}

/** The file's bytes, or a 404 (and undefined) when it cannot be read. */
async function fileOr404(res: ServerResponse, ctx: HostileContext): Promise<Buffer | undefined> {
  try {
    return await readFile(ctx.file);
  } catch {
    res.writeHead(404).end();
    return undefined;
  }
}

/** Writes `chunk` repeatedly, with backpressure, until `more()` says stop or the client goes. */
function pump(
  res: ServerResponse,
  ctx: HostileContext,
  chunk: Buffer,
  more: (sent: number) => boolean,
): void {
  let sent = 0;
  let closed = false;
  res.on('close', () => (closed = true));
  const go = (): void => {
    while (!closed && more(sent)) {
      const piece = chunk;
      sent += piece.length;
      ctx.sent(piece.length);
      if (!res.write(piece)) return void res.once('drain', go);
    }
    if (!closed) res.end();
  };
  go();
}

/** A raw HTTP/1.1 response on the socket: headers as given (no checks by node:http), then `body`. */
function raw(
  req: IncomingMessage,
  ctx: HostileContext,
  status: string,
  headers: Record<string, string | number>,
  body: Buffer,
  then: 'close' | 'hang',
): void {
  const socket = req.socket;
  const head = [`HTTP/1.1 ${status}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join(
    '\r\n',
  );
  socket.write(head);
  ctx.sent(body.length);
  if (then === 'close') socket.end(body);
  else socket.write(body);
}

/** The ways storage misbehaves. */
export const misbehave = {
  /** A redirect (302 unless told) to `to`, a URL or a function of the request's path. */
  redirect(to: string | ((pathname: string) => string), status = 302): Handler {
    return (req, res) => {
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      res.writeHead(status, { location: typeof to === 'string' ? to : to(pathname) }).end('moved');
    };
  },

  /** 200 OK with an HTML error page (a proxy's or CDN's), as text/html unless told. */
  htmlPage(contentType = 'text/html; charset=utf-8'): Handler {
    return (_req, res, ctx) => {
      const page = Buffer.from(
        '<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body><h1>Oops</h1>' +
          '<p>Something went wrong. Please try again later.</p></body></html>\n',
      );
      ctx.sent(page.length);
      res.writeHead(200, { 'content-type': contentType, 'content-length': page.length }).end(page);
    };
  },

  /**
   * The file's real bytes (the first `send` of them when given; then `append` bytes of junk) under
   * a Content-Length of `declared`, raw on the socket; the connection is closed after (or left
   * hanging).
   */
  lyingLength(
    declared: number,
    opts: { send?: number; append?: number; then?: 'close' | 'hang' } = {},
  ): Handler {
    return (req, res, ctx) => {
      void fileOr404(res, ctx).then(
        (data) =>
          data &&
          raw(
            req,
            ctx,
            '200 OK',
            { 'content-length': declared, 'content-type': 'application/octet-stream' },
            Buffer.concat([
              opts.send === undefined ? data : data.subarray(0, opts.send),
              Buffer.alloc(opts.append ?? 0, 0x21),
            ]),
            opts.then ?? 'close',
          ),
      );
    };
  },

  /** An endless body of `fill` bytes (chunked, or under a Content-Length when given). */
  endless(opts: { contentLength?: number; fill?: number } = {}): Handler {
    return (_req, res, ctx) => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        ...(opts.contentLength !== undefined ? { 'content-length': opts.contentLength } : {}),
      });
      pump(res, ctx, Buffer.alloc(64 * 1024, opts.fill ?? 0x61), () => true);
    };
  },

  /** The file's first `bytes` under its full Content-Length, then nothing (`hang`) or a hang-up (`close`). */
  stopsAfter(bytes: number, then: 'hang' | 'close'): Handler {
    return (req, res, ctx) => {
      void fileOr404(res, ctx).then(
        (data) =>
          data && raw(req, ctx, '200 OK', { 'content-length': data.length }, data.subarray(0, bytes), then),
      );
    };
  },

  /** The file one byte every `intervalMs`, under its full Content-Length. */
  trickle(intervalMs: number): Handler {
    return (_req, res, ctx) => {
      void fileOr404(res, ctx).then((data) => {
        if (!data) return;
        res.writeHead(200, { 'content-length': data.length });
        let i = 0;
        const timer = setInterval(() => {
          if (i >= data.length) return void (clearInterval(timer), res.end());
          ctx.sent(1);
          res.write(data.subarray(i, ++i));
        }, intervalMs);
        res.on('close', () => clearInterval(timer));
      });
    };
  },

  /**
   * A `bytes`-long object generated on the fly (never held in memory): JSON-looking filler, as a
   * manifest of that size would be; under its Content-Length when `announce`, else chunked.
   */
  huge(bytes: number, announce: boolean): Handler {
    return (_req, res, ctx) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(announce ? { 'content-length': bytes } : {}),
      });
      const chunk = Buffer.alloc(64 * 1024, ' ');
      chunk.write('{"files":{', 0);
      pump(res, ctx, chunk, (sent) => sent < bytes);
    };
  },

  /** LATEST naming a new version at every read (`name(n)`, n = 1, 2, …), each with a new ETag. */
  rotatingLatest(name: (n: number) => string): Handler & { reads: () => number } {
    let n = 0;
    const handler: Handler = (_req, res, ctx) => {
      const body = `${name(++n)}\n`;
      ctx.sent(body.length);
      res.writeHead(200, { etag: `"rot-${n}"`, 'content-length': Buffer.byteLength(body) }).end(body);
    };
    return Object.assign(handler, { reads: () => n });
  },

  /** A fixed body (200, with its Content-Length). */
  body(text: string | Buffer, contentType = 'application/octet-stream'): Handler {
    return (_req, res, ctx) => {
      const data = Buffer.from(text);
      ctx.sent(data.length);
      res.writeHead(200, { 'content-type': contentType, 'content-length': data.length }).end(data);
    };
  },

  /**
   * The file's first `bytes`, then a pause until `release()` is called, then the rest: lets a test
   * change the world (fill the disk) while a download is in flight.
   */
  gated(bytes: number): Handler & { release: () => void; reached: Promise<void> } {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let reach!: () => void;
    const reached = new Promise<void>((r) => (reach = r));
    const handler: Handler = (_req, res, ctx) => {
      void fileOr404(res, ctx).then(async (data) => {
        if (!data) return;
        res.writeHead(200, { 'content-length': data.length });
        res.write(data.subarray(0, bytes));
        ctx.sent(Math.min(bytes, data.length));
        reach();
        await released;
        ctx.sent(Math.max(0, data.length - bytes));
        res.end(data.subarray(bytes));
      });
    };
    return Object.assign(handler, { release, reached });
  },
};
