// `npm run demo` end to end, non-interactively: the demo starts its own control plane, operator,
// node agent, storage and Prometheus (discovering the pods through kubernetes_sd_configs), scores
// both segments through the router, rolls model v2 out as a canary analysed on real metrics and exits
// after promotion. Given the demo, when it runs to the end, then it printed scores for both
// segments, passed the analysis, reached promotion, exited 0 and left no process behind (every
// pid it printed before teardown is gone).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../harness/processes.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DEMO_TIMEOUT_MS = 170_000;

function runDemo(args: string[]): Promise<{ code: number | null; output: string }> {
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
      resolve({ code, output });
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
