// A process that must never load @kubernetes/client-node (its generated API costs ~75 MiB of RSS,
// bench/results-operator.md): `node --import NO_CLIENT_NODE ...` registers a module hook that refuses
// to resolve any module inside client-node, naming the module that imported it. Used by the
// footprint tests of the router (test/router/footprint.test.ts) and the sidecar
// (test/sidecar/footprint.test.ts).
import { spawnSync } from 'node:child_process';

const HOOK = `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.includes('/node_modules/@kubernetes/client-node/'))
    throw new Error('refused: @kubernetes/client-node imported by ' + context.parentURL);
  return r;
}`;

/** `--import` this: registers HOOK in the process */
export const NO_CLIENT_NODE = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)});`,
)}`;

/** What a process that imports client-node under the hook prints, for tests that the hook works. */
export const REFUSED = 'refused: @kubernetes/client-node';

/** Imports client-node under the hook: { status, stderr } (a non-zero status: the hook works). */
export function importClientNodeUnderHook(): { status: number | null; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', NO_CLIENT_NODE, '--input-type=module', '-e', "await import('@kubernetes/client-node')"],
    { encoding: 'utf8' },
  );
  return { status: r.status, stderr: r.stderr };
}
