// Printing and bookkeeping shared by the demo's steps: numbered step headers with their timings,
// aligned tables, and the teardown list (what was started, stopped in reverse order, once).
//
// API:
//   step(title, fn) → fn's result         prints "== N. title", then "(took 1.2 s)"
//   say(line), table(rows)
//   class Teardown: add(name, fn, pids?), pids(), run() → Promise<void>
export const say = (line = ''): void => void process.stdout.write(`${line}\n`);

let stepNo = 0;
const demoStarted = Date.now();

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export async function step<T>(title: string, fn: () => Promise<T> | T): Promise<T> {
  stepNo++;
  say(`\n== ${stepNo}. ${title}   [t+${seconds(Date.now() - demoStarted)}]`);
  const t0 = Date.now();
  const result = await fn();
  say(`   (${seconds(Date.now() - t0)})`);
  return result;
}

export function elapsedSinceStart(): number {
  return Date.now() - demoStarted;
}

export function table(rows: string[][], indent = '   '): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows)
    say(
      indent +
        r
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
    );
}

export class Teardown {
  private readonly items: { name: string; fn: () => Promise<void> | void; pids?: () => number[] }[] = [];
  private running: Promise<void> | undefined;

  /** `pids`: the processes this item runs, for the record printed before teardown */
  add(name: string, fn: () => Promise<void> | void, pids?: () => number[]): void {
    this.items.push({ name, fn, ...(pids ? { pids } : {}) });
  }

  /** Every process the items run right now. */
  pids(): number[] {
    return this.items.flatMap((i) => i.pids?.() ?? []);
  }

  /** Runs every cleanup, last added first; a failing one is reported and the rest still run. */
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const { name, fn } of this.items.reverse()) {
        try {
          await fn();
          say(`   stopped ${name}`);
        } catch (err) {
          process.stderr.write(
            `   stopping ${name} failed: ${err instanceof Error ? err.message : String(err)}\n`,
          );
        }
      }
    })();
    return this.running;
  }
}
