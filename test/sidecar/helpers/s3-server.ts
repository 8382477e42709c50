// A real S3-compatible server on loopback for the sidecar tests and benchmark: moto's standalone
// server (installed by scripts/s3-server.sh into the cache, reused when there), one process per
// test file, port 0. Also an S3 client for publishing into it, and the env a sidecar needs.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface S3Server {
  endpoint: string;
  client: S3Client;
  /** Env for a process that should reach this server through the AWS SDK's own variables. */
  env: Record<string, string>;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

// The SDK warns once per process that it will want Node 22 from 2027; noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const CREDENTIALS = { accessKeyId: 'lightrank-test', secretAccessKey: 'lightrank-test-secret' };

/** Installs moto if missing (first run: ~1 min), starts it on 127.0.0.1:<free port>. */
export async function startS3Server(): Promise<S3Server> {
  const out = execFileSync('bash', [path.join(REPO, 'scripts/s3-server.sh')], { encoding: 'utf8' });
  const bin = out.trim().split('\n').at(-1)!;
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const endpoint = await waitForAddress(child);
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: CREDENTIALS,
    // No flexible checksums on uploads: a streamed body would go out aws-chunked with a trailing
    // CRC, which moto decodes slowly (MB/s); the snapshot's own sha256s cover integrity.
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    client,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      LIGHTRANK_S3_FORCE_PATH_STYLE: 'true',
    },
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      client.destroy();
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function waitForAddress(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => fail(new Error(`moto_server did not start in 30 s:\n${log}`)), 30_000);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      const m = /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(m[1]!);
      }
    };
    function fail(err: Error): void {
      child.kill('SIGKILL');
      reject(err);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => fail(new Error(`moto_server exited (${code}):\n${log}`)));
  });
}
