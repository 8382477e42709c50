// The /proc reader on this process: CPU time grows with work, and a command name holding ") "
// does not shift the fields.
import { describe, expect, it } from 'vitest';
import { cpuSeconds, statCpuSeconds } from './proc.js';

describe('/proc CPU time', () => {
  it("reads this process's CPU seconds, growing with work", () => {
    const before = cpuSeconds(process.pid);
    // Work until Node's own account (getrusage) says 150 ms of CPU went by — wall time would
    // not do on a loaded machine — then /proc must show at least 100 ms of it (10 ms ticks).
    const start = process.cpuUsage();
    let x = 0;
    const spent = () => {
      const d = process.cpuUsage(start);
      return (d.user + d.system) / 1e6;
    };
    while (spent() < 0.15) for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    expect(cpuSeconds(process.pid)).toBeGreaterThanOrEqual(before + 0.1);
  });

  it('finds the fields after the last ")" of the command name', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    const stat = '42 (a) b) c) S 1 42 42 0 -1 0 0 0 0 0 250 50 700 100 20 0';
    expect(statCpuSeconds(stat)).toBe(3);
    expect(statCpuSeconds(stat, 'children')).toBe(8);
  });
});
