// Picks the source module for a URI by its scheme, and splits an object URI (the model file)
// into its parent source and key.
import { FileSource } from './file.js';
import { HttpSource, type HttpSourceOptions } from './http.js';
import { S3Source, type S3SourceOptions } from './s3.js';
import type { Source } from './source.js';

export type { GetOptions, GetResult, Source } from './source.js';

export interface SourceOptions {
  s3?: S3SourceOptions;
  http?: HttpSourceOptions;
}

/** A source rooted at `uri` (a prefix: `file:///dir`, `https://host/path`, `s3://bucket/prefix`). */
export function openSource(uri: string, options: SourceOptions = {}): Source {
  const scheme = uri.slice(0, uri.indexOf(':') + 1);
  switch (scheme) {
    case 'file:':
      return new FileSource(uri);
    case 'http:':
    case 'https:':
      return new HttpSource(uri, options.http);
    case 's3:':
      return new S3Source(uri, options.s3);
    default:
      throw new Error(`unsupported storage URI ${JSON.stringify(uri)}: use file://, http(s):// or s3://`);
  }
}

/** For one object's URI: the source of its parent prefix and the object's key in it. */
export function openObject(uri: string, options: SourceOptions = {}): { source: Source; key: string } {
  const cut = uri.lastIndexOf('/');
  const key = uri.slice(cut + 1);
  if (cut < 0 || key === '' || !uri.slice(0, cut).includes('//')) {
    throw new Error(`storage URI ${JSON.stringify(uri)} does not name an object`);
  }
  return { source: openSource(uri.slice(0, cut), options), key };
}
