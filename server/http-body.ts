// How the REST server reads request bodies and writes response bodies, apart from what they
// mean: content codings (gzip/deflate requests, bounded like the body limit; compressed responses
// for clients that ask, as Triton does), JSON text in UTF-8 or UTF-16 by its charset, and JSON
// keys that could poison a prototype refused by name.
//
// API:
//   decodeContentEncoding(header, payload, limitBytes) → Readable   (throws 415 for an unknown coding)
//     the request body decompressed: a stream that fails with 400 when the bytes are not what the
//     header says and with 413 past `limitBytes` decompressed; it carries `receivedEncodedLength`
//     (the compressed bytes read), which Fastify checks against Content-Length
//   chooseResponseEncoding(acceptEncoding) → 'gzip' | 'deflate' | undefined
//   compress(coding, body) → Promise<Buffer>
//   decodeJsonText(bytes, contentType?) → string        by the charset parameter (415 if unsupported)
//   isUtf8Json(contentType?) → boolean                  decodeJsonText reads it as UTF-8
//   parseJson(text, where?) → unknown                   JSON.parse + the forbidden-key check below
//   forbiddenKeyPath(value) → string | undefined        where a `__proto__` key (or a `constructor`
//                                                       holding `prototype`) sits, e.g. "query.__proto__"
import { Transform, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ServeError, invalidArgument } from './errors.js';

const CODINGS = { gzip: 'gzip', 'x-gzip': 'gzip', deflate: 'deflate' } as const;
type Coding = (typeof CODINGS)[keyof typeof CODINGS];

/** A stream Fastify reads as the body; `receivedEncodedLength` is what came off the socket. */
type DecodedBody = Transform & { receivedEncodedLength: number };

/**
 * The request body with its `Content-Encoding` undone (`identity` or no header: `payload` itself).
 * One coding at most (Triton takes one too); the decompressed size is bounded by `limitBytes`.
 */
export function decodeContentEncoding(
  header: string | undefined,
  payload: Readable,
  limitBytes: number,
): Readable {
  if (header === undefined) return payload;
  const codings = header
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return payload;
  const coding = CODINGS[codings[0] as keyof typeof CODINGS];
  if (codings.length > 1 || coding === undefined) {
    throw new ServeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `unsupported Content-Encoding "${header}": send gzip, deflate or identity (one coding)`,
      'Content-Encoding',
    );
  }
  const inflate = coding === 'gzip' ? zlib.createGunzip() : zlib.createInflate();
  let decoded = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      decoded += chunk.length;
      if (decoded > limitBytes) {
        done(
          new ServeError(
            'PAYLOAD_TOO_LARGE',
            `the ${coding}-decoded request body exceeds the ${limitBytes}-byte body limit`,
          ),
        );
        return;
      }
      done(null, chunk);
    },
  }) as DecodedBody;
  out.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => (out.receivedEncodedLength += chunk.length));
  const fail = (err: Error): void => {
    payload.unpipe(inflate);
    inflate.destroy();
    out.destroy(
      err instanceof ServeError
        ? err
        : invalidArgument(
            'Content-Encoding',
            `the body is not valid ${coding} data (${err.message}); send it compressed as labelled, or without the header`,
          ),
    );
  };
  inflate.on('error', fail);
  payload.on('error', (err) => out.destroy(err));
  out.on('error', () => {
    // past the limit: stop inflating (a small body can expand without bound)
    payload.unpipe(inflate);
    inflate.destroy();
  });
  payload.pipe(inflate).pipe(out);
  return out;
}

/** The coding to answer in, from the request's Accept-Encoding (q-values honoured; gzip first). */
export function chooseResponseEncoding(acceptEncoding: string | undefined): Coding | undefined {
  if (!acceptEncoding) return undefined;
  let gzip: number | undefined;
  let deflate: number | undefined;
  let star: number | undefined;
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (!Number.isFinite(q)) q = 0;
    if (name === 'gzip' || name === 'x-gzip') gzip = q;
    else if (name === 'deflate') deflate = q;
    else if (name === '*') star = q;
  }
  const g = gzip ?? star ?? 0;
  const d = deflate ?? star ?? 0;
  if (g <= 0 && d <= 0) return undefined;
  return g >= d ? 'gzip' : 'deflate';
}

const gzipAsync = promisify(zlib.gzip);
const deflateAsync = promisify(zlib.deflate);
// Fastest level: responses are mostly float text, which level 1 already halves; higher levels
// cost several times the CPU for a few percent more (measured in http-body.test.ts's sizes).
const LEVEL = { level: zlib.constants.Z_BEST_SPEED };

export function compress(coding: Coding, body: Buffer | string): Promise<Buffer> {
  return coding === 'gzip' ? gzipAsync(body, LEVEL) : deflateAsync(body, LEVEL);
}

const UTF8 = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);
const UTF16 = new Set(['utf-16', 'utf16', 'utf-16le', 'utf-16be']);

/**
 * The JSON text of a body by its Content-Type charset: UTF-8 (the default, RFC 8259; US-ASCII is
 * a subset) or UTF-16 (`utf-16` by its byte-order mark, little-endian without one, as WHATWG
 * decoders do; `utf-16le`/`utf-16be` as named). Other charsets are refused with 415, never read
 * as UTF-8. A leading byte-order mark is dropped.
 */
/** Whether decodeJsonText reads a body of this content type as UTF-8 (no charset, or a UTF-8 one). */
export function isUtf8Json(contentType?: string): boolean {
  const m = contentType ? /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType) : null;
  return m === null || UTF8.has(m[1]!.toLowerCase());
}

export function decodeJsonText(bytes: Buffer, contentType?: string): string {
  const m = contentType ? /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType) : null;
  const charset = m ? m[1]!.toLowerCase() : 'utf-8';
  if (UTF8.has(charset)) {
    const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    return bytes.toString('utf8', start);
  }
  if (UTF16.has(charset)) {
    let label = charset === 'utf-16be' ? 'utf-16be' : 'utf-16le';
    if (charset === 'utf-16' || charset === 'utf16') {
      if (bytes[0] === 0xfe && bytes[1] === 0xff) label = 'utf-16be';
    }
    try {
      // ignoreBOM false: a byte-order mark matching the encoding is dropped
      return new TextDecoder(label, { fatal: true }).decode(bytes);
    } catch {
      throw invalidArgument('body', `the body is not valid ${charset.toUpperCase()} text`);
    }
  }
  throw new ServeError(
    'UNSUPPORTED_MEDIA_TYPE',
    `unsupported charset "${m![1]}": send JSON as UTF-8 (or UTF-16)`,
    'Content-Type',
  );
}

/**
 * JSON.parse, then refuse keys that would poison a prototype if the body were ever merged into
 * an object (`__proto__`, or `constructor` holding `prototype`), naming where the key is.
 */
export function parseJson(text: string, where = 'request body'): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ServeError('MALFORMED_JSON', `${where} is not valid JSON: ${(err as Error).message}`);
  }
  // Only texts that can spell such a key are walked (`\u` escapes can spell it too).
  if (
    value !== null &&
    typeof value === 'object' &&
    (text.includes('__proto__') || text.includes('constructor') || text.includes('\\u'))
  ) {
    const at = forbiddenKeyPath(value);
    if (at !== undefined) {
      throw invalidArgument(
        at,
        `${where} holds a "${at.endsWith('constructor') ? 'constructor.prototype' : '__proto__'}" key, ` +
          'which is refused (prototype poisoning); no field of this API has that name',
      );
    }
  }
  return value;
}

export function forbiddenKeyPath(root: unknown): string | undefined {
  // iterative: a body may nest deeper than the call stack
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        const v: unknown = value[i];
        if (v !== null && typeof v === 'object') stack.push([v, `${path}[${i}]`]);
      }
      continue;
    }
    const keys = Object.keys(value as object);
    for (let k = keys.length - 1; k >= 0; k--) {
      const key = keys[k]!;
      const here = path ? `${path}.${key}` : key;
      const v = (value as Record<string, unknown>)[key];
      if (key === '__proto__') return here;
      if (key === 'constructor' && v !== null && typeof v === 'object' && Object.hasOwn(v, 'prototype'))
        return here;
      if (v !== null && typeof v === 'object') stack.push([v, here]);
    }
  }
  return undefined;
}
