// Test harness for the scoring server as a real process: stages a data dir from the model kit's
// demo bundle (shared-volume layout), starts `server/main.ts` under tsx on 127.0.0.1 with a free
// port (port 0; the port is read from the "listening" log line), collects its JSON log lines,
// and stops it with SIGTERM.
//
// API:
//   stageDemo(root, { items? }) → Promise<Staged>    bundle + data dir with model/current, snapshot/current
//   startServer(args: string[], env?, nodeArgs?) → Promise<ServerProcess>   (env value undefined =
//     unset; nodeArgs go to node itself, e.g. --cpu-prof, which NODE_OPTIONS does not take)
//   ServerProcess: { url, port, grpcPort, logs: LogLine[], post(path, body, headers?), get(path), stop() }
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { buildDemoBundle, type DemoBundle } from '../../modelkit/bundle.js';
import { publishModel, publishSnapshot } from '../../server/volume.js';

const REPO = join(import.meta.dirname, '..', '..');

export interface Staged {
  bundle: DemoBundle;
  dataDir: string;
  modelVersion: string;
}

export async function stageDemo(root: string, opts: { items?: number } = {}): Promise<Staged> {
  const bundle = await buildDemoBundle({ dir: join(root, 'build'), items: opts.items ?? 2000 });
  const dataDir = join(root, 'data');
  const modelVersion = 'm1';
  await publishModel(dataDir, modelVersion, {
    onnxPath: bundle.queryModel,
    modelJson: { version: modelVersion, sha256: bundle.querySha256, towerFingerprint: bundle.fingerprint },
  });
  await publishSnapshot(dataDir, bundle.manifest.snapshotVersion, bundle.snapshotDir);
  return { bundle, dataDir, modelVersion };
}

export type LogLine = Record<string, unknown> & { level: number; msg: string };

export interface HttpResult {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export interface ServerProcess {
  url: string;
  port: number;
  /** the gRPC port (null when started with --grpc-port off) */
  grpcPort: number | null;
  proc: ChildProcess;
  logs: LogLine[];
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  get(path: string): Promise<HttpResult>;
  stop(): Promise<number | null>;
}

async function toResult(res: Response): Promise<HttpResult> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

export async function startServer(
  args: string[],
  env: Record<string, string | undefined> = {},
  nodeArgs: string[] = [],
): Promise<ServerProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', ...env };
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  const proc = spawn(
    process.execPath,
    [
      ...nodeArgs,
      '--import',
      'tsx',
      join(REPO, 'server', 'main.ts'),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      ...args,
    ],
    {
      cwd: REPO,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: LogLine[] = [];
  let stderr = '';
  let buffered = '';
  let grpcPort: number | null = null;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL'); // never leave a half-started server behind
      reject(new Error(`server did not log "listening" in 60 s; stderr: ${stderr}`));
    }, 60_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as LogLine;
          logs.push(entry);
          if (entry.msg === 'listening') {
            clearTimeout(timer);
            grpcPort = (entry.grpcPort as number | null | undefined) ?? null;
            resolve(entry.port as number);
          }
        } catch {
          // not a log line
        }
      }
    });
    proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}) before listening; stderr: ${stderr}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    grpcPort,
    proc,
    logs,
    post: async (path, body, headers = { 'content-type': 'application/json' }) =>
      toResult(
        await fetch(url + path, {
          method: 'POST',
          headers,
          body: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      ),
    get: async (path) => toResult(await fetch(url + path)),
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill('SIGTERM');
      }),
  };
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
