// Publishes a local storage-prefix folder (see fixtures.ts) into an S3 bucket the way a
// publisher should: the version's files first, the LATEST pointer last.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export async function putFile(client: S3Client, bucket: string, key: string, file: string): Promise<void> {
  const { size } = await stat(file);
  await client.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(file), ContentLength: size }),
  );
}

/** Uploads `<localPrefix>/<version>/*` (plus `extra` files of the prefix), then LATEST = version. */
export async function publishToS3(
  client: S3Client,
  bucket: string,
  keyPrefix: string,
  localPrefix: string,
  version: string,
  extra: string[] = [],
): Promise<void> {
  for (const name of await readdir(path.join(localPrefix, version))) {
    await putFile(client, bucket, `${keyPrefix}/${version}/${name}`, path.join(localPrefix, version, name));
  }
  for (const name of extra)
    await putFile(client, bucket, `${keyPrefix}/${name}`, path.join(localPrefix, name));
  await setLatestS3(client, bucket, keyPrefix, version);
}

export async function setLatestS3(
  client: S3Client,
  bucket: string,
  keyPrefix: string,
  version: string,
): Promise<void> {
  await client.send(
    new PutObjectCommand({ Bucket: bucket, Key: `${keyPrefix}/LATEST`, Body: `${version}\n` }),
  );
}
