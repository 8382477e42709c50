// A container's process on this machine: started in a process group of its own (so a kill
// reaches whatever it forks), stdout and stderr appended to the container's log file, stopped
// with SIGTERM → grace → SIGKILL to the whole group. Every live group is SIGKILLed when the
// agent's process exits, however it exits, so no container outlives the agent.
//
// API:
//   startProcess({ argv, cwd, env, logPath }) → LocalProcess
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync, writeSync } from 'node:fs';
import { constants } from 'node:os';

export interface ExitStatus {
  exitCode: number;
  signal?: string;
  finishedAt: Date;
  /** why it ended when the runtime knows better than the exit code (e.g. OOMKilled) */
  reason?: string;
}

export interface LocalProcess {
  readonly pid: number;
  readonly startedAt: Date;
  /** resolves once the process has exited */
  readonly exited: Promise<ExitStatus>;
  isRunning(): boolean;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs: number): Promise<ExitStatus>;
}

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already
  }
}

function writeLog(logPath: string, line: string): void {
  try {
    appendFileSync(logPath, line);
  } catch {
    // the log is best effort
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  });
}

export function startProcess(opts: {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  logPath: string;
}): LocalProcess {
  installExitHook();
  const fd = openSync(opts.logPath, 'a');
  const startedAt = new Date();
  writeSync(fd, `--- ${startedAt.toISOString()} starting: ${opts.argv.join(' ')}\n`);
  let child;
  try {
    child = spawn(opts.argv[0]!, opts.argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', fd, fd],
      detached: true, // setsid: the child leads its own process group, pgid == pid
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    child.once('error', () => {}); // the reason is thrown here, not emitted later
    throw new Error(`could not start ${opts.argv.join(' ')}`);
  }
  liveGroups.add(pid);
  let running = true;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('error', (err) => {
      // could not be started after all (or could not be signalled): report it as an exit
      if (!running) return;
      running = false;
      liveGroups.delete(pid);
      writeLog(opts.logPath, `--- ${new Date().toISOString()} ${err.message}\n`);
      resolve({ exitCode: 128, finishedAt: new Date() });
    });
    child.once('exit', (code, signal) => {
      if (!running) return;
      running = false;
      // the leader is gone: reap what it left in its group, then never signal the id again
      killGroup(pid, 'SIGKILL');
      liveGroups.delete(pid);
      resolve({
        exitCode: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0),
        ...(signal ? { signal } : {}),
        finishedAt: new Date(),
      });
    });
  });
  let stopping: Promise<ExitStatus> | undefined;
  return {
    pid,
    startedAt,
    exited,
    isRunning: () => running,
    stop(graceMs) {
      stopping ??= (async () => {
        if (running) {
          killGroup(pid, 'SIGTERM');
          const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
          const status = await exited;
          clearTimeout(timer);
          return status;
        }
        return exited;
      })();
      return stopping;
    },
  };
}
