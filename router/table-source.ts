// Keeps the router's table in step with its file (the mounted ConfigMap). Kubernetes updates a ConfigMap
// volume by swapping a `..data` symlink, which fs.watch reports unreliably, so this polls: a stat of the
// path (following links) on every tick, and a read + sha256 only when the stat changed or a reload is
// forced (SIGHUP). A table is swapped in whole by one assignment, so requests never see a mixed state; an
// invalid or unreadable file is refused (log + metric) and the previous table keeps serving.
// The path may name a directory instead (the namespace's shared router: one file per model): its
// `*.json` files are merged into one table, each file refused alone (router/table-dir.ts).
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../lib/logger.js';
import type { RouterMetrics } from './metrics.js';
import { contentSha256, parseTable, type RouterTable } from './table.js';
import { TableDirectory } from './table-dir.js';

export type CheckResult = 'loaded' | 'unchanged' | 'refused' | 'unreadable';

export interface TableSourceOptions {
  path: string;
  intervalMs: number;
  logger: Logger;
  metrics: RouterMetrics;
  /** Called after a new table became current. */
  onLoaded?: (table: RouterTable) => void;
}

export class TableSource {
  private table: RouterTable | undefined;
  private loadedAt: Date | undefined;
  private statKey = '';
  private seenSha256 = '';
  private lastProblem = '';
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private directory: TableDirectory | undefined;

  constructor(private readonly opts: TableSourceOptions) {}

  /** The table being served; undefined until a valid one was loaded. */
  get current(): RouterTable | undefined {
    return this.table;
  }

  get loadedTime(): Date | undefined {
    return this.loadedAt;
  }

  /** Why the last check failed ('' when it did not): for readiness and logs. */
  get problem(): string {
    return this.lastProblem;
  }

  /** Whether the path is a directory of tables (known after the first check). */
  get isDirectory(): boolean {
    return this.directory !== undefined;
  }

  /** The directory's files refused or unreadable now ([] for a single file). */
  get refusedFiles(): { file: string; message: string }[] {
    return this.directory?.refused ?? [];
  }

  /** Loads the file once (a missing or bad file leaves the source unready, not failed) and starts polling. */
  async start(): Promise<CheckResult> {
    const first = await this.check();
    this.timer = setInterval(() => void this.check(), this.opts.intervalMs);
    this.timer.unref();
    return first;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-reads the file; `force` skips the stat shortcut (SIGHUP). Checks run one at a time, in order. */
  check(force = false): Promise<CheckResult> {
    const run = this.queue.then(() => this.checkNow(force));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async checkNow(force: boolean): Promise<CheckResult> {
    const { path, logger, metrics } = this.opts;
    if (this.directory || (await TableDirectory.isDirectory(path))) return this.checkDirectory(force);
    let content: string;
    try {
      const st = await stat(path);
      const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      if (!force && key === this.statKey) return 'unchanged';
      this.statKey = key;
      content = await readFile(path, 'utf8');
    } catch (err) {
      this.statKey = '';
      this.seenSha256 = '';
      const problem = `cannot read router table ${path}: ${(err as Error).message}`;
      if (force || problem !== this.lastProblem) {
        this.lastProblem = problem;
        metrics.reloadFailures.inc({ reason: 'unreadable' });
        logger.error({ path, serving: this.table?.sha256 ?? null }, problem);
      }
      return 'unreadable';
    }
    const sha256 = contentSha256(content);
    if (sha256 === this.table?.sha256) {
      this.lastProblem = '';
      return 'unchanged';
    }
    if (!force && sha256 === this.seenSha256) return 'unchanged';
    this.seenSha256 = sha256;
    let table: RouterTable;
    try {
      table = parseTable(content, sha256);
    } catch (err) {
      this.lastProblem = (err as Error).message;
      metrics.reloadFailures.inc({ reason: 'invalid' });
      logger.error(
        { path, sha256, serving: this.table?.sha256 ?? null },
        `refused router table: ${(err as Error).message}`,
      );
      return 'refused';
    }
    this.activate(table);
    return 'loaded';
  }

  private async checkDirectory(force: boolean): Promise<CheckResult> {
    const { path, logger, metrics } = this.opts;
    const dir = (this.directory ??= new TableDirectory(path));
    let checked;
    try {
      checked = await dir.check(force);
    } catch (err) {
      const problem = `cannot read router table directory ${path}: ${(err as Error).message}`;
      if (force || problem !== this.lastProblem) {
        this.lastProblem = problem;
        metrics.reloadFailures.inc({ reason: 'unreadable' });
        logger.error({ path, serving: this.table?.sha256 ?? null }, problem);
      }
      return 'unreadable';
    }
    for (const p of checked.problems) {
      metrics.reloadFailures.inc({ reason: p.reason });
      logger.error(
        { path, file: p.file, serving: this.table?.sha256 ?? null },
        `refused router table file ${p.file}: ${p.message}`,
      );
    }
    this.lastProblem = '';
    if (!checked.table) return checked.problems.length > 0 ? 'refused' : 'unchanged';
    this.activate(checked.table);
    return 'loaded';
  }

  private activate(table: RouterTable): void {
    const { path, logger, metrics } = this.opts;
    const previous = this.table;
    this.table = table;
    this.loadedAt = new Date();
    this.lastProblem = '';
    metrics.tableLoaded(table);
    this.opts.onLoaded?.(table);
    logger.info(
      {
        path,
        sha256: table.sha256,
        revision: table.spec.revision ?? null,
        previous: previous?.sha256 ?? null,
        // a shared router's table may name a thousand models: their count, not their names
        ...(this.directory ? { modelCount: table.models.size } : { models: [...table.models.keys()] }),
      },
      'router table loaded',
    );
  }
}
