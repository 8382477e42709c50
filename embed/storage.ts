// Where a build's inputs come from: the catalogue's Parquet files and the item tower, in the same
// storages as snapshots (file://, http(s)://, s3://).
//  - The catalogue is a prefix: every *.parquet under it (s3: ListObjectsV2; file: the folder),
//    or the files the spec names (required for http, which cannot be listed). hyparquet reads a
//    file through an AsyncBuffer, so a shard reads only the footers and its own row groups: S3
//    and HTTP with ranged GETs, a local file with positional reads.
//  - The item tower is fetched with the sidecar's downloader (watchdog, size bound) and refused
//    unless its sha256 is the spec's.
// S3 takes its endpoint and credentials the way the sidecar does (AWS_ENDPOINT_URL_S3, AWS_REGION,
// …); LIGHTRANK_S3_FORCE_PATH_STYLE=true for path-style stores.
//
// API:
//   listCatalogue(uri, files?) → CatalogueFile[]      sorted by name
//   fetchItemTower(uri, sha256, dest) → dest          throws when the sha256 differs
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { asyncBufferFromFile, asyncBufferFromUrl, type AsyncBuffer } from 'hyparquet';
import { BuildInputError } from './catalogue.js';
import { downloadToFile } from '../sidecar/download.js';
import { openObject } from '../sidecar/sources/index.js';

export interface CatalogueFile {
  /** how errors name the file: its URI */
  name: string;
  open(): Promise<AsyncBuffer>;
}

const MAX_ITEM_TOWER_BYTES = 2 * 1024 ** 3;

function forcePathStyle(): boolean {
  return /^(1|true|yes)$/i.test(process.env.LIGHTRANK_S3_FORCE_PATH_STYLE ?? '');
}

/** The build's S3 client (also store.ts's): the SDK's endpoint, region and credentials chain. */
export function s3Client(): S3Client {
  return new S3Client({
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: forcePathStyle(),
    // the snapshot's own sha256s cover every byte; no second CRC pass (nor aws-chunked uploads)
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

function s3File(client: S3Client, bucket: string, key: string, size?: number): CatalogueFile {
  return {
    name: `s3://${bucket}/${key}`,
    open: async () => {
      const byteLength =
        size ??
        Number((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength);
      return {
        byteLength,
        async slice(start: number, end = byteLength): Promise<ArrayBuffer> {
          if (end <= start) return new ArrayBuffer(0);
          const res = await client.send(
            new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
          );
          const bytes = await res.Body!.transformToByteArray();
          if (bytes.length !== end - start)
            throw new Error(`s3://${bucket}/${key}: asked bytes ${start}-${end - 1}, got ${bytes.length}`);
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
        },
      };
    },
  };
}

export async function listCatalogue(uri: string, files?: string[]): Promise<CatalogueFile[]> {
  const base = uri.replace(/\/+$/, '');
  const named = files?.map((f) => f.replace(/^\/+/, ''));
  if (named?.some((f) => f.split('/').includes('..')))
    throw new Error(`catalogue files must stay under ${uri} (no '..')`);
  let out: CatalogueFile[];
  if (base.startsWith('file://')) {
    const dir = fileURLToPath(base);
    const names = named ?? (await readdir(dir)).filter((f) => f.endsWith('.parquet'));
    out = names.map((n) => {
      const path = join(dir, n);
      return { name: path, open: () => asyncBufferFromFile(path) };
    });
  } else if (base.startsWith('http://') || base.startsWith('https://')) {
    if (!named) throw new Error(`${uri}: an http(s) catalogue cannot be listed; name its files`);
    out = named.map((n) => ({
      name: `${base}/${n}`,
      open: () => asyncBufferFromUrl({ url: `${base}/${n}` }),
    }));
  } else if (base.startsWith('s3://')) {
    const url = new URL(base);
    const bucket = url.hostname;
    const prefix = decodeURIComponent(url.pathname).replace(/^\/+/, '');
    const dirPrefix = prefix === '' ? '' : `${prefix}/`;
    const client = s3Client();
    if (named) {
      out = named.map((n) => s3File(client, bucket, dirPrefix + n));
    } else {
      out = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: dirPrefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? [])
          if (o.Key?.endsWith('.parquet')) out.push(s3File(client, bucket, o.Key, o.Size));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    }
  } else {
    throw new Error(`catalogue ${JSON.stringify(uri)}: use file://, http(s):// or s3://`);
  }
  if (out.length === 0) throw new Error(`catalogue ${uri}: no .parquet files`);
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function fetchItemTower(uri: string, sha256: string, dest: string): Promise<string> {
  const { source, key } = openObject(uri, { s3: { forcePathStyle: forcePathStyle() } });
  try {
    const got = await downloadToFile(source, key, dest, {
      maxBytes: MAX_ITEM_TOWER_BYTES,
      maxBytesWhat: 'the item-tower cap of 2 GiB',
    });
    if (got.sha256 !== sha256)
      throw new BuildInputError(`item tower ${uri}: sha256 ${got.sha256}, the spec says ${sha256}`);
  } finally {
    source.close();
  }
  return dest;
}
