// CPU time from Linux's /proc/<pid>/stat, for the benchmarks' per-process CPU columns. The fields
// after the command name (which may hold spaces and parentheses, hence the last ')') start at
// `state`; utime, stime, cutime, cstime are fields 14–17 of the file, in USER_HZ ticks (10 ms).
import { readFileSync } from 'node:fs';

/** CPU seconds in a stat line: the process's own (user + system), or its waited-for children's. */
export function statCpuSeconds(stat: string, whose: 'self' | 'children' = 'self'): number {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const at = whose === 'self' ? 11 : 13;
  return (Number(f[at]) + Number(f[at + 1])) / 100;
}

/** CPU seconds (user + system, all threads) process `pid` has used so far. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}
