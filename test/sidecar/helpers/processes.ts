// Runs an entry point of the repo as a real process through tsx — the sidecar
// (`sidecar/main.ts`) or the scoring server (`server/main.ts`) — reads the port from its
// "listening" log line, and gives tests its log lines, readiness and metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

interface Entry {
  file: string;
  listeningMsg: string;
  readyPath: string;
}

const SIDECAR: Entry = { file: 'sidecar/main.ts', listeningMsg: 'sidecar listening', readyPath: '/readyz' };
const SERVER: Entry = { file: 'server/main.ts', listeningMsg: 'listening', readyPath: '/v2/health/ready' };

export class RepoProcess {
  readonly logs: LogLine[] = [];
  port = 0;
  stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly entry: Entry,
  ) {}

  /**
   * The sync sidecar; `user` runs it under another uid/gid (the test runner must be root);
   * `nodeArgs` go to node before the entry point (e.g. another `--import`).
   */
  static sidecar(
    env: Record<string, string>,
    user?: { uid: number; gid: number },
    nodeArgs: string[] = [],
  ): Promise<RepoProcess> {
    // No scoring server to ask before pruning unless the test names one (8080 may be anybody's).
    return RepoProcess.spawn(SIDECAR, { LIGHTRANK_SERVER_METRICS_URL: '', ...env }, user, nodeArgs);
  }

  /** The scoring server, reading the volume a sidecar writes. */
  static server(env: Record<string, string>): Promise<RepoProcess> {
    return RepoProcess.spawn(SERVER, env);
  }

  private static async spawn(
    entry: Entry,
    env: Record<string, string>,
    user?: { uid: number; gid: number },
    nodeArgs: string[] = [],
  ): Promise<RepoProcess> {
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(REPO, entry.file)], {
      cwd: REPO,
      ...user,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        LOG_LEVEL: 'debug',
        LIGHTRANK_PORT: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new RepoProcess(child, entry);
    child.stderr!.on('data', (c: Buffer) => (proc.stderr += c.toString()));
    let buffered = '';
    child.stdout!.on('data', (c: Buffer) => {
      buffered += c.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        try {
          proc.logs.push(JSON.parse(line) as LogLine);
        } catch {
          proc.logs.push({ level: 30, msg: line });
        }
      }
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const listening = proc.logs.find((l) => l.msg === entry.listeningMsg);
      if (listening) {
        proc.port = listening.port as number;
        return proc;
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`${entry.file} did not start: ${JSON.stringify(proc.logs)}\n${proc.stderr}`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async ready(): Promise<boolean> {
    return (await fetch(`${this.url}${this.entry.readyPath}`)).status === 200;
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.url}/metrics`)).text();
  }

  /** The value of the first sample of `name` whose labels include `labels`, or 0. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await this.metrics();
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      const open = line.indexOf('{');
      const body = open >= 0 ? line.slice(open + 1, line.lastIndexOf('}')) : '';
      const have = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
        return Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return 0;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Polls `check` every 50 ms until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
