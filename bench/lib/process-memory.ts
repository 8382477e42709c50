// What a measured Node process holds in memory, for the memory benchmarks (bench/router-memory.ts,
// bench/sidecar-memory.ts): resident set (VmRSS, and its anonymous and file-backed parts from
// /proc/<pid>/status) beside V8's own figures (process.memoryUsage(): heap used/total, external,
// array buffers), which the process writes to $MEMORY_REPORT on SIGUSR2 (a preload this module adds).
//
// API:
//   startMeasured(argv, env) → ChildProcess          node --import <preload> ...argv, env added to ours
//   sample(child, reportPath) → Sample                 the child must have been started with MEMORY_REPORT=reportPath
//   sampleBareNode(reportPath) → Sample                the floor every Node process pays, measured the same way
//   get(url), waitReady(url, timeoutMs?), freePort()   loopback HTTP helpers
//   printSamples(results)                              a Markdown table on stdout
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

// dumps process.memoryUsage() to $MEMORY_REPORT on SIGUSR2 (preloaded into the measured process)
const PRELOAD =
  "data:text/javascript,import{writeFileSync}from'node:fs';process.on('SIGUSR2',()=>writeFileSync(process.env.MEMORY_REPORT,JSON.stringify(process.memoryUsage())))";

export interface Sample {
  rssMiB: number;
  rssAnonMiB: number;
  rssFileMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
}

const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

export async function sample(child: ChildProcess, reportPath: string): Promise<Sample> {
  await rm(reportPath, { force: true });
  child.kill('SIGUSR2');
  let usage: NodeJS.MemoryUsage | undefined;
  for (let i = 0; i < 100 && !usage; i++) {
    await new Promise((r) => setTimeout(r, 50));
    usage = await readFile(reportPath, 'utf8').then(
      (t) => JSON.parse(t) as NodeJS.MemoryUsage,
      () => undefined,
    );
  }
  if (!usage) throw new Error(`pid ${child.pid} wrote no memory report to ${reportPath}`);
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${child.pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return {
    rssMiB: mib(kb('VmRSS')),
    rssAnonMiB: mib(kb('RssAnon')),
    rssFileMiB: mib(kb('RssFile') + kb('RssShmem')),
    heapUsedMiB: mib(usage.heapUsed),
    heapTotalMiB: mib(usage.heapTotal),
    externalMiB: mib(usage.external),
    arrayBuffersMiB: mib(usage.arrayBuffers),
  };
}

export function startMeasured(argv: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', PRELOAD, ...argv], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  child.on('exit', (code, signal) => {
    if (code !== null && code !== 0) process.stderr.write(`process exited ${code}: ${err}\n`);
    else if (signal && signal !== 'SIGTERM') process.stderr.write(`process killed by ${signal}: ${err}\n`);
  });
  return child;
}

/** A bare Node process idling for a second, sampled and stopped. */
export async function sampleBareNode(reportPath: string): Promise<Sample> {
  const bare = startMeasured(['-e', 'setInterval(() => {}, 1000)'], { MEMORY_REPORT: reportPath });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    return await sample(bare, reportPath);
  } finally {
    bare.kill('SIGTERM');
  }
}

export function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

export async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const r = await get(url).catch((e: Error) => ({ status: 0, body: e.message }));
    if (r.status === 200) return;
    last = `${r.status} ${r.body}`;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms: ${last}`);
}

export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

export function printSamples(results: Record<string, Sample>): void {
  const cols: (keyof Sample)[] = [
    'rssMiB',
    'rssAnonMiB',
    'rssFileMiB',
    'heapUsedMiB',
    'heapTotalMiB',
    'externalMiB',
    'arrayBuffersMiB',
  ];
  process.stdout.write(`| process | ${cols.join(' | ')} |\n| --- |${cols.map(() => ' ---: |').join('')}\n`);
  for (const [name, s] of Object.entries(results))
    process.stdout.write(`| ${name} | ${cols.map((c) => s[c]).join(' | ')} |\n`);
}
