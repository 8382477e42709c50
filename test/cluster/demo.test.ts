// `npm run demo` end to end, non-interactively: the demo starts its own control plane, operator,
// node agent, storage and Prometheus (discovering the pods through kubernetes_sd_configs), scores
// both segments through the router, rolls model v2 out as a canary analysed on real metrics and exits
// after promotion. Given the demo, when it runs to the end, then it printed scores for both
// segments, passed the analysis, reached promotion, exited 0 and left no process behind (every
// pid it printed before teardown is gone).
//
// `npm run demo -- --containers`, the same way: every lightrank part from the images built from the
// repo's Dockerfiles (the operator installed by the Helm chart, every pod a podman pod of the local
// node agent). Given that, then the same scores, analysis and promotion; the operator pod ran the
// built operator image; and inside every container of every pod (operator, scoring server, sync
// sidecar, router) the pod spec is in force as the kernel reports it: uid 65532, a read-only root
// with a writable /tmp emptyDir, no capabilities, no_new_privs and a seccomp filter; and no podman
// pod is left afterwards.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../harness/processes.js';
import { containerSkipReason, useContainers } from '../images/containers.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DEMO_TIMEOUT_MS = 170_000;

function runDemo(args: string[]): Promise<{ code: number | null; output: string; pid: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], {
      cwd: REPO,
      // as from a shell: without vitest's variables (they silence the loggers of the processes)
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST'))),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    // Past the budget: Ctrl-C, as a person would; the demo tears down and the assertions say why.
    const timer = setTimeout(() => child.kill('SIGINT'), DEMO_TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, pid: child.pid ?? 0 });
    });
  });
}

describe('npm run demo', () => {
  it(
    'scores both segments through the router, promotes the canary and leaves nothing running',
    async () => {
      const { code, output } = await runDemo(['--step-seconds', '5']);
      const context = `demo output:\n${output.slice(-6000)}`;
      expect(output, context).toMatch(/SCORES standard ok track=stable model=v1/);
      expect(output, context).toMatch(/SCORES shopping ok track=stable model=v1/);
      // the canary analysis ran on real metrics: Prometheus scraping the real server processes
      expect(output, context).toMatch(/canary analysis ON \(Prometheus\)/);
      expect(output, context).toMatch(/namespace lightrank-demo \(Pod Security: restricted enforced\)/);
      expect(output, context).toMatch(
        /analysis Passed \(error rate 0 ≤ 0\.01; p99 [\d.]+ms ≤ 500ms; ctr PSI/,
      );
      expect(output, context).toMatch(/PROMOTED: standard now serves v2/);
      expect(output, context).toMatch(/SCORES standard ok track=stable model=v2/);
      expect(output, context).toMatch(/DEMO COMPLETE/);
      expect(code, context).toBe(0);

      const pids = JSON.parse(/DEMO_PIDS (\[[\d,]*\])/.exec(output)?.[1] ?? 'null') as number[] | null;
      expect(pids, context).not.toBeNull();
      // control plane (5) + operator + the pods' processes (2 scoring pods × 2 + 2 routers)
      expect(pids!.length, context).toBeGreaterThanOrEqual(12);
      expect(pids!.filter(isAlive), context).toEqual([]);
    },
    DEMO_TIMEOUT_MS + 30_000,
  );
});

const skip = containerSkipReason();
if (skip) console.warn(`[demo --containers] skipped: ${skip}`);

describe.skipIf(skip !== undefined)('npm run demo -- --containers', () => {
  // podman installed and the images built (or found cached) before the demo's clock starts
  const containers = useContainers();

  it(
    'runs every part from the built images, with each pod spec in force inside its containers, to promotion',
    async () => {
      const { code, output, pid } = await runDemo(['--containers', '--step-seconds', '5']);
      const context = `demo output:\n${output.slice(-8000)}`;
      expect(output, context).toMatch(/SCORES standard ok track=stable model=v1/);
      expect(output, context).toMatch(/SCORES shopping ok track=stable model=v1/);
      expect(output, context).toMatch(/canary analysis ON \(Prometheus\)/);
      expect(output, context).toMatch(/namespace lightrank-demo \(Pod Security: restricted enforced\)/);
      expect(output, context).toMatch(
        /analysis Passed \(error rate 0 ≤ 0\.01; p99 [\d.]+ms ≤ 500ms; ctr PSI/,
      );
      expect(output, context).toMatch(/PROMOTED: standard now serves v2/);
      expect(output, context).toMatch(/SCORES standard ok track=stable model=v2/);
      expect(output, context).toMatch(/DEMO COMPLETE in [\d.]+ s \(containers/);
      expect(code, context).toBe(0);
      // the operator came from the Helm chart with the built image, as a container on the agent's node
      expect(output, context).toContain(
        `Install the operator with Helm (charts/lightrank, image ${containers.env!.operatorImage})`,
      );
      expect(output, context).toMatch(
        /pod lightrank-operator-\S+ Ready on lightrank-local, pod IP 10\.\d+\.\d+\.\d+ \(container podman:\/\//,
      );

      const inForce = [...output.matchAll(/IN FORCE (\S+) (.*)/g)].map((m) => ({
        name: m[1]!,
        facts: m[2]!,
      }));
      const names = inForce.map((c) => c.name);
      // the operator, both segments' server and sidecar, and the two routers
      expect(
        names.filter((n) => /^lightrank-operator-[^/]+\/operator$/.test(n)),
        context,
      ).toHaveLength(1);
      for (const segment of ['standard', 'shopping'])
        for (const container of ['server', 'sync'])
          expect(
            names.some((n) => n.startsWith(`ads-ranker-${segment}-`) && n.endsWith(`/${container}`)),
            `${segment}/${container}: ${names.join(', ')}`,
          ).toBe(true);
      expect(
        names.filter((n) => /^ads-ranker-router-[^/]+\/router$/.test(n)),
        context,
      ).toHaveLength(2);
      for (const c of inForce)
        expect(c.facts, c.name).toBe(
          'uid=65532 root=ro tmp=ok capEff=0000000000000000 noNewPrivs=1 seccomp=2',
        );

      const pids = JSON.parse(/DEMO_PIDS (\[[\d,]*\])/.exec(output)?.[1] ?? 'null') as number[] | null;
      expect(pids!.filter(isAlive), context).toEqual([]);
      const { stdout } = await promisify(execFile)(
        'podman',
        ['pod', 'ps', '--filter', `label=dev.lightrank.agent-pid=${pid}`, '--format', '{{.Name}}'],
        { env: containers.env!.podmanEnv },
      );
      expect(stdout.trim(), 'podman pods left after the demo').toBe('');
    },
    DEMO_TIMEOUT_MS + 30_000,
  );
});
