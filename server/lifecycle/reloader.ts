// Hot reload from the shared volume (docs/internals.md): polls `<dataDir>/model/current` and
// `<dataDir>/snapshot/current` (symlinks the sync sidecar swaps with rename(2); fs.watch is
// unreliable on such swaps, so we poll). When either points somewhere new, the pair loads beside
// the serving version and is swapped in atomically; a pair that fails to load (corrupt files,
// fingerprint mismatch, ...) is refused — logged, counted — and not retried until a pointer
// moves again, while the previous version keeps serving. Each load's stage durations
// (load-stages.ts) go into the "switched"/"serving" log line (`stages`, seconds) and into the
// gauge `lightrank_server_reload_stage_seconds{stage}` (the last successful load).
//
// API:
//   new Reloader({ dataDir, registry, load, pollMs, log, metrics })
//   reloader.start(); reloader.check() → Promise<void> (one poll, serialized); reloader.stop()
//   reloader.lastRefusal → { key, kind, reason, message } | undefined
import { realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.js';
import type { ServerMetrics } from '../metrics.js';
import { LoadError } from './load-error.js';
import type { ModelRegistry } from './registry.js';
import type { ServedVersion, VersionSource } from './version.js';

export interface ReloaderOptions {
  dataDir: string;
  registry: ModelRegistry;
  load: (src: VersionSource) => Promise<ServedVersion>;
  pollMs: number;
  log: Logger;
  metrics: ServerMetrics;
}

export interface Refusal {
  key: string;
  kind: 'model' | 'snapshot';
  reason: string;
  message: string;
}

async function pointer(
  dataDir: string,
  kind: 'model' | 'snapshot',
): Promise<{ dir: string; version: string } | undefined> {
  try {
    const dir = await realpath(join(dataDir, kind, 'current'));
    return { dir, version: basename(dir) };
  } catch {
    return undefined;
  }
}

const STAGE_METRIC = 'lightrank_server_reload_stage_seconds';

/** One gauge per registry (a test may start several reloaders on one). */
function stageGauge(registry: Registry): Gauge<'stage'> {
  return (
    (registry.getSingleMetric(STAGE_METRIC) as Gauge<'stage'> | undefined) ??
    new Gauge({
      name: STAGE_METRIC,
      help: 'Seconds each stage of the last successful model/snapshot load took (checksum, read_ids, id_index, scoring_graph, sessions, switch, ...)',
      labelNames: ['stage'],
      registers: [registry],
    })
  );
}

export class Reloader {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private activeKey: string | undefined;
  private active: VersionSource | undefined;
  private waitingLogged = false;
  lastRefusal: Refusal | undefined;

  private readonly stageSeconds: Gauge<'stage'>;

  constructor(private readonly opts: ReloaderOptions) {
    this.stageSeconds = stageGauge(opts.metrics.registry);
  }

  start(): void {
    const tick = (): void => {
      this.check()
        .catch((e: unknown) => this.opts.log.error({ err: e }, 'reload check failed'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.opts.pollMs).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One poll; concurrent callers share the poll in progress. */
  check(): Promise<void> {
    this.running ??= this.poll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async poll(): Promise<void> {
    const { dataDir, log } = this.opts;
    const [model, snapshot] = await Promise.all([pointer(dataDir, 'model'), pointer(dataDir, 'snapshot')]);
    if (!model || !snapshot) {
      if (!this.waitingLogged) {
        log.info(
          { dataDir, model: !!model, snapshot: !!snapshot },
          'waiting for model/current and snapshot/current',
        );
        this.waitingLogged = true;
      }
      return;
    }
    const key = `${model.dir}|${snapshot.dir}`;
    if (key === this.activeKey || key === this.lastRefusal?.key) return;
    const src: VersionSource = {
      modelDir: model.dir,
      modelVersion: model.version,
      snapshotDir: snapshot.dir,
      snapshotVersion: snapshot.version,
    };
    const changed: ('model' | 'snapshot')[] = [];
    if (this.active?.modelDir !== src.modelDir) changed.push('model');
    if (this.active?.snapshotDir !== src.snapshotDir) changed.push('snapshot');
    const started = Date.now();
    let next: ServedVersion;
    try {
      next = await this.opts.load(src);
    } catch (e) {
      const err =
        e instanceof LoadError
          ? e
          : new LoadError(changed[0] ?? 'model', 'unknown', String((e as Error)?.message ?? e));
      this.lastRefusal = { key, kind: err.kind, reason: err.reason, message: err.message };
      this.opts.metrics.reload(err.kind, 'refused', err.reason);
      log.error(
        {
          kind: err.kind,
          reason: err.reason,
          model: src.modelVersion,
          snapshot: src.snapshotVersion,
          serving: !!this.active,
        },
        `refused ${err.kind} (${err.reason}): ${err.message}${this.active ? '; the previous version keeps serving' : ''}`,
      );
      return;
    }
    const switched = performance.now();
    const previous = this.opts.registry.swap(next);
    const stages = { ...next.loadStages, switch: (performance.now() - switched) / 1000 };
    this.stageSeconds.reset();
    for (const [stage, seconds] of Object.entries(stages)) this.stageSeconds.set({ stage }, seconds);
    this.activeKey = key;
    this.active = src;
    this.lastRefusal = undefined;
    for (const kind of changed) this.opts.metrics.reload(kind, 'loaded', 'ok');
    this.opts.metrics.setModelVersion(next.model.version);
    this.opts.metrics.setSnapshot(next.snapshot.version, next.snapshot.createdAt);
    log.info(
      {
        model: next.model.version,
        snapshot: next.snapshot.version,
        rows: next.snapshot.rows,
        provider: next.provider,
        loadMs: Date.now() - started,
        stages,
        replaced: previous ? { model: previous.model.version, snapshot: previous.snapshot.version } : null,
      },
      previous ? 'switched to new version' : 'serving',
    );
  }
}
