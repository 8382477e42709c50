// Process supervision for the control plane in a box: every component runs in its own process
// group (so a kill reaches anything it forks), its output goes to a log file, and a pid file in
// the run directory lets a later run reap what a crashed run left behind. Groups are killed on
// stop(), on process exit and on SIGINT/SIGTERM/SIGHUP when nobody else handles the signal.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  isRunning(): boolean;
  /** SIGTERM to the group, SIGKILL after `graceMs`, resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

interface PidRecord {
  name: string;
  pid: number;
  bin: string;
}

const OWNER_FILE = 'owner.pid';
const PIDS_FILE = 'pids.json';
const KEPT_FILE = 'kept';

const live = new Set<{ proc: ManagedProcess; runDir: string }>();
const runDirsToRemove = new Set<string>();
let hooksInstalled = false;

/** Marks `runDir` as owned by this process; `reapOrphans` leaves it alone while we live. */
export function claimRunDir(runDir: string, removeOnExit: boolean): void {
  writeFileSync(join(runDir, OWNER_FILE), `${process.pid}\n`);
  writeFileSync(join(runDir, PIDS_FILE), '[]\n');
  if (removeOnExit) runDirsToRemove.add(runDir);
  installExitHooks();
}

/** Forgets a run directory after a clean stop (and removes it unless told to keep it). */
export function releaseRunDir(runDir: string, remove: boolean): void {
  runDirsToRemove.delete(runDir);
  if (remove) rmSync(runDir, { recursive: true, force: true });
  else writeFileSync(join(runDir, KEPT_FILE), 'kept on purpose: reapOrphans leaves this directory alone\n');
}

export function spawnComponent(opts: {
  name: string;
  bin: string;
  args: string[];
  runDir: string;
  logPath: string;
  env?: NodeJS.ProcessEnv;
}): ManagedProcess {
  const fd = openSync(opts.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.bin, opts.args, {
      cwd: opts.runDir,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true, // setsid: the child leads its own process group, pgid == pid
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${opts.name} (${opts.bin})`);
  // A forgotten control plane must not keep the event loop alive; the exit hook reaps it.
  child.unref();

  let running = true;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      live.delete(entry); // its group id may be recycled from now on: never signal it again
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', () => {
      running = false;
      resolve('spawn-error');
    });
  });

  let stopping: Promise<void> | undefined;
  const proc: ManagedProcess = {
    name: opts.name,
    pid,
    logPath: opts.logPath,
    exited,
    isRunning: () => running,
    stop(graceMs = 10_000) {
      // Once only: a second group kill much later could hit a recycled process group id.
      stopping ??= (async () => {
        if (running) {
          child.ref(); // keep the event loop alive until the exit is seen
          killGroup(pid, 'SIGTERM');
          const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
          killGroup(pid, 'SIGKILL'); // anything the leader left behind in its group
        }
        forget(entry, opts.runDir);
      })();
      return stopping;
    },
  };
  const entry = { proc, runDir: opts.runDir };
  live.add(entry);
  writePidFile(opts.runDir);
  const record: PidRecord = { name: opts.name, pid, bin: realpathSync(opts.bin) };
  appendPidRecord(opts.runDir, record);
  return proc;
}

function forget(entry: { proc: ManagedProcess; runDir: string }, runDir: string): void {
  live.delete(entry);
  writePidFile(runDir);
}

function appendPidRecord(runDir: string, record: PidRecord): void {
  const file = join(runDir, PIDS_FILE);
  const records = readPidFile(file).filter((r) => r.pid !== record.pid);
  records.push(record);
  writeFileSync(file, JSON.stringify(records, null, 2) + '\n');
}

/** Rewrites the pid file with the processes of `runDir` that are still running. */
function writePidFile(runDir: string): void {
  const file = join(runDir, PIDS_FILE);
  if (!existsSync(runDir)) return;
  const running = new Set([...live].filter((e) => e.runDir === runDir).map((e) => e.proc.pid));
  const records = readPidFile(file).filter((r) => running.has(r.pid));
  writeFileSync(file, JSON.stringify(records, null, 2) + '\n');
}

function readPidFile(file: string): PidRecord[] {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PidRecord[];
  } catch {
    return [];
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already
  }
}

/** A process with this pid exists (0, negative and non-integer pids name none: kill(0) would signal the group). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Synchronous last resort (exit hook, signals): SIGKILL every live group, remove run dirs. */
function killAllNow(): void {
  for (const { proc } of live) killGroup(proc.pid, 'SIGKILL');
  live.clear();
  for (const dir of runDirsToRemove) rmSync(dir, { recursive: true, force: true });
  runDirsToRemove.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      // Someone else (vitest, the demo) handles this signal: they stop us or exit, and the
      // exit hook still reaps what is left. Alone, we kill and re-raise the default action.
      if (process.listenerCount(sig) > 1) return;
      killAllNow();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/**
 * Kills the process groups recorded in run directories under `root` whose owner process is
 * dead (a crashed or SIGKILLed run), then removes those directories (not those kept on purpose
 * after a clean stop). A pid is only killed when
 * it still runs the binary it was started from, so a recycled pid is never touched.
 */
export function reapOrphans(root: string): { killed: number[]; removedDirs: string[] } {
  const killed: number[] = [];
  const removedDirs: string[] = [];
  if (!existsSync(root)) return { killed, removedDirs };
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(root, entry.name);
    const owner = Number.parseInt(safeRead(join(dir, OWNER_FILE)), 10);
    if (existsSync(join(dir, KEPT_FILE))) continue;
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
    for (const record of readPidFile(join(dir, PIDS_FILE))) {
      if (runsBinary(record.pid, record.bin)) {
        killGroup(record.pid, 'SIGKILL');
        killed.push(record.pid);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    removedDirs.push(dir);
  }
  return { killed, removedDirs };
}

function runsBinary(pid: number, bin: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`) === bin;
  } catch {
    return false;
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The last `lines` lines of a component's log, for error messages. */
export function logTail(logPath: string, lines = 20): string {
  return safeRead(logPath).trimEnd().split('\n').slice(-lines).join('\n');
}
