// Process supervision with real processes: stop() takes the whole process group down, and a
// later run reaps what a dead owner left behind, but never a pid running another binary.
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimRunDir, isAlive, reapOrphans, releaseRunDir, spawnComponent } from './processes.js';
import { waitFor } from './wait.js';

const roots: string[] = [];
function newRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'lr-processes-test-'));
  roots.push(root);
  return root;
}
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A pid that is certainly dead: a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

describe('process supervision', () => {
  it('stop() kills the component and what it forked, and empties the pid file', async () => {
    const runDir = join(newRoot(), 'run');
    mkdirSync(runDir);
    claimRunDir(runDir, true);
    // bash forks a background sleep (a grandchild in the same group) and waits for it
    const proc = spawnComponent({
      name: 'forker',
      bin: '/bin/bash',
      args: ['-c', 'sleep 300 & echo $! > child.pid; wait'],
      runDir,
      logPath: join(runDir, 'forker.log'),
    });
    const grandchild = await waitFor('the grandchild pid file', () => {
      const text = existsSync(join(runDir, 'child.pid'))
        ? readFileSync(join(runDir, 'child.pid'), 'utf8')
        : '';
      return text.trim() ? Number(text) : undefined;
    });
    expect(JSON.parse(readFileSync(join(runDir, 'pids.json'), 'utf8'))).toMatchObject([
      { name: 'forker', pid: proc.pid },
    ]);
    expect(isAlive(grandchild)).toBe(true);

    await proc.stop(2_000);
    expect(proc.isRunning()).toBe(false);
    await waitFor(`grandchild ${grandchild} to die`, () => !isAlive(grandchild), { timeoutMs: 5_000 });
    expect(JSON.parse(readFileSync(join(runDir, 'pids.json'), 'utf8'))).toEqual([]);
    releaseRunDir(runDir, true);
    expect(existsSync(runDir)).toBe(false);
  });

  it('reaps the process groups of a run whose owner died, and only processes of the recorded binary', async () => {
    const root = newRoot();
    const orphanDir = join(root, 'cp-crashed');
    mkdirSync(orphanDir);
    // An orphan: a detached `sleep` recorded in a run dir whose owner pid is dead.
    const orphan = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    // A bystander recorded under the wrong binary (a recycled pid): must survive.
    const bystander = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    try {
      writeFileSync(join(orphanDir, 'owner.pid'), `${await deadPid()}\n`);
      writeFileSync(
        join(orphanDir, 'pids.json'),
        JSON.stringify([
          { name: 'etcd', pid: orphan.pid, bin: await exeOf(orphan.pid!) },
          { name: 'kwok', pid: bystander.pid, bin: '/nonexistent/kwok' },
        ]),
      );
      // A live run (owner: this process) is left alone.
      const liveDir = join(root, 'cp-live');
      mkdirSync(liveDir);
      writeFileSync(join(liveDir, 'owner.pid'), `${process.pid}\n`);

      const result = reapOrphans(root);
      expect(result.killed).toEqual([orphan.pid]);
      expect(result.removedDirs).toEqual([orphanDir]);
      await waitFor('the orphan to die', () => !isAlive(orphan.pid!), { timeoutMs: 5_000 });
      expect(isAlive(bystander.pid!)).toBe(true);
      expect(existsSync(liveDir)).toBe(true);
    } finally {
      orphan.kill('SIGKILL');
      bystander.kill('SIGKILL');
    }
  });

  it('leaves a run directory kept on purpose after a clean stop', () => {
    const root = newRoot();
    const kept = join(root, 'cp-kept');
    mkdirSync(kept);
    claimRunDir(kept, false);
    releaseRunDir(kept, false);
    writeFileSync(join(kept, 'owner.pid'), '999999999\n');
    expect(reapOrphans(root).removedDirs).toEqual([]);
    expect(existsSync(kept)).toBe(true);
  });
});

/** The binary a process runs, once it has exec'd (right after spawn it may still be node). */
function exeOf(pid: number): Promise<string> {
  return waitFor(`pid ${pid} to exec`, () => {
    const exe = readlinkSync(`/proc/${pid}/exe`);
    return exe === process.execPath ? undefined : exe;
  });
}
