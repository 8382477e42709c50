// Real parts for the router tests: tiny node:http upstreams on loopback that count what they receive, a
// writer that updates a table file the way the kubelet updates a ConfigMap volume (new timestamped dir,
// `..data` symlink swapped by rename), and a keep-alive HTTP client.
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { RouterTableFile } from '../../router/table.js';

export interface Upstream {
  readonly name: string;
  readonly url: string;
  /** Requests received so far. */
  readonly count: number;
  close(): Promise<void>;
}

/** An upstream that answers `{ upstream, method, url, headers, bodyBytes, bodySha256 }` after `delayMs`. */
export async function startUpstream(name: string, opts: { delayMs?: number } = {}): Promise<Upstream> {
  let count = 0;
  const server = http.createServer((req, res) => {
    count++;
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      const body = JSON.stringify({
        upstream: name,
        method: req.method,
        url: req.url,
        headers: req.headers,
        bodyBytes: bytes,
        bodySha256: hash.digest('hex'),
      });
      const reply = (): void => {
        res.writeHead(200, {
          'content-type': 'application/json',
          'x-upstream': name,
          'keep-alive': 'timeout=5',
        });
        res.end(body);
      };
      if (opts.delayMs) setTimeout(reply, opts.delayMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get count() {
      return count;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A one-model table; per segment a stable backend and optionally a canary taking `canaryWeight`. */
export function table(
  segments: Record<string, { stable: string; canary?: string; canaryWeight?: number }>,
  opts: { model?: string; defaultSegment?: string; revision?: string } = {},
): RouterTableFile {
  const entries = Object.entries(segments).map(([seg, s]) => {
    const w = s.canaryWeight ?? 0;
    const backends: { track: 'stable' | 'canary'; url: string; weight: number }[] = [
      { track: 'stable', url: s.stable, weight: 100 - w },
    ];
    if (s.canary) backends.push({ track: 'canary', url: s.canary, weight: w });
    return [seg, { backends }];
  });
  return {
    version: 1,
    revision: opts.revision,
    models: {
      [opts.model ?? 'demo']: {
        defaultSegment: opts.defaultSegment ?? Object.keys(segments)[0]!,
        segments: Object.fromEntries(entries),
      },
    },
  };
}

/** A table file updated like a ConfigMap volume: `<dir>/table.json -> ..data/table.json`, `..data -> ..<n>`. */
export class ConfigMapDir {
  private n = 0;
  constructor(readonly dir: string) {}

  get path(): string {
    return join(this.dir, 'table.json');
  }

  /** Publishes a new version of the file; returns the text written. */
  async write(content: string | object): Promise<string> {
    const text = typeof content === 'string' ? content : JSON.stringify(content, null, 2);
    const previous = this.n > 0 ? join(this.dir, `..${this.n}`) : undefined;
    const version = join(this.dir, `..${++this.n}`);
    await mkdir(version, { recursive: true });
    await writeFile(join(version, 'table.json'), text);
    await symlink(`..${this.n}`, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.n === 1) await symlink('..data/table.json', this.path);
    if (previous) await rm(previous, { recursive: true });
    return text;
  }
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export function request(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends `total` requests with `concurrency` in flight; returns every reply (or error) in order of completion. */
export async function load(
  total: number,
  concurrency: number,
  send: (i: number) => Promise<Reply>,
): Promise<(Reply | Error)[]> {
  const out: (Reply | Error)[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      out.push(await send(i).catch((err: Error) => err));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

/**
 * A ConfigMap volume of several keys, updated like the kubelet does: every version in a new `..<n>`
 * directory, `..data` swapped by rename, one visible `<key> -> ..data/<key>` symlink per key (added and
 * removed as keys come and go).
 */
export class ConfigMapKeys {
  private n = 0;
  private keys = new Set<string>();
  constructor(readonly dir: string) {}

  async write(files: Record<string, string | object>): Promise<void> {
    const previous = this.n > 0 ? join(this.dir, `..${this.n}`) : undefined;
    const version = join(this.dir, `..${++this.n}`);
    await mkdir(version, { recursive: true });
    for (const [key, content] of Object.entries(files))
      await writeFile(join(version, key), typeof content === 'string' ? content : JSON.stringify(content));
    await symlink(`..${this.n}`, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    for (const key of Object.keys(files))
      if (!this.keys.has(key)) await symlink(`..data/${key}`, join(this.dir, key));
    for (const key of this.keys) if (!(key in files)) await rm(join(this.dir, key));
    this.keys = new Set(Object.keys(files));
    if (previous) await rm(previous, { recursive: true });
  }
}
