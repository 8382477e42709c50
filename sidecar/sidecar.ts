// The sync loop: first the model (retried with capped, jittered backoff until it is in place),
// then the snapshot prefix, polled every interval ± jitter. Every failure goes through one
// handler: a log line, `lightrank_sidecar_sync_failures_total{kind,cause}`, and — for refused
// versions and local write errors — a Kubernetes Event. Source errors back off; a refused
// version waits for the next poll (and is not downloaded again, see snapshot-sync.ts). What is
// served, storage's LATEST, and a refused snapshot, are annotated on the pod (pod-status.ts) for
// the operator.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../lib/logger.js';
import { Backoff, jittered } from './backoff.js';
import { DEFAULT_TRANSFER_LIMITS, type TransferLimits } from './download.js';
import { LocalWriteError, RefusedError, failureCause } from './errors.js';
import type { EventReporter } from './events.js';
import type { PodStatusReporter } from './pod-status.js';
import { SidecarMetrics } from './metrics.js';
import { ModelSync, type ModelInfo } from './model-sync.js';
import { serverVersions } from './server-versions.js';
import { MANIFEST_FILE } from '../snapshot/index.js';
import { SnapshotSync } from './snapshot-sync.js';
import { openObject, openSource, type Source } from './sources/index.js';
import { VolumeKind, type Kind } from './volume.js';

export interface SidecarConfig {
  dataDir: string;
  model: { uri: string; sha256: string; version: string; fingerprint: string | undefined };
  snapshotUri: string;
  pollMs: number;
  /** Fraction of the poll interval to spread polls by (0.1 = ±10%). */
  jitter: number;
  /** Versions kept per kind (at least 2: current and previous). */
  keep: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How long a refused snapshot version is left alone while its manifest is unchanged. */
  refusedRetryMs: number;
  s3ForcePathStyle: boolean;
  /** The scoring server's /metrics, read before pruning so the versions it serves are kept. */
  serverMetricsUrl: string | undefined;
  /** Stall timeout and rate floor of every transfer (download.ts defaults when absent). */
  limits?: TransferLimits;
  /** The largest model file accepted (model-sync.ts default when absent). */
  maxModelBytes?: number;
  /** http(s) origins a redirect may lead to besides the source's own. */
  redirectOrigins?: string[];
  /** An Authorization value for http(s) sources, sent to the source's own origin only. */
  httpAuthorization?: string | undefined;
}

export interface SidecarDeps {
  log: Logger;
  registry: Registry;
  events?: EventReporter | undefined;
  /** Annotates the pod with what it serves (api/pod-annotations.ts); none outside a pod. */
  podStatus?: PodStatusReporter | undefined;
  random?: () => number;
}

export class Sidecar {
  readonly metrics: SidecarMetrics;
  private readonly log: Logger;
  private readonly events: EventReporter | undefined;
  private readonly podStatus: PodStatusReporter | undefined;
  private readonly random: () => number;
  private readonly modelVolume: VolumeKind;
  private readonly snapshotVolume: VolumeKind;
  private readonly modelSource: Source;
  private readonly snapshotSource: Source;
  private readonly modelSync: ModelSync;
  private readonly snapshotSync: SnapshotSync;
  private readonly backoff: Backoff;
  private model: ModelInfo | undefined;
  /** A model refusal is annotated on the pod: remove it once a model is published. */
  private modelRefusalReported = false;
  /** The snapshot refusal last annotated on the pod (not patched again while it is the same). */
  private snapshotRefusal: string | undefined;
  private snapshotVersion: string | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly config: SidecarConfig,
    deps: SidecarDeps,
  ) {
    if (config.keep < 2)
      throw new Error(`keep must be at least 2 (current and previous), got ${config.keep}`);
    this.log = deps.log;
    this.events = deps.events;
    this.podStatus = deps.podStatus;
    this.random = deps.random ?? Math.random;
    this.metrics = new SidecarMetrics(deps.registry);
    this.backoff = new Backoff(config.backoffBaseMs, config.backoffMaxMs, this.random);
    const limits = config.limits ?? DEFAULT_TRANSFER_LIMITS;
    const sourceOptions = {
      s3: { forcePathStyle: config.s3ForcePathStyle, headerTimeoutMs: limits.stallMs },
      http: {
        redirectOrigins: config.redirectOrigins ?? [],
        authorization: config.httpAuthorization,
        headerTimeoutMs: limits.stallMs,
      },
    };
    const { source, key } = openObject(config.model.uri, sourceOptions);
    this.modelSource = source;
    this.snapshotSource = openSource(config.snapshotUri, sourceOptions);
    this.modelVolume = new VolumeKind(config.dataDir, 'model');
    this.snapshotVolume = new VolumeKind(config.dataDir, 'snapshot');
    this.modelSync = new ModelSync(
      { source, key, ...config.model },
      this.modelVolume,
      config.keep,
      async () => (await serverVersions(config.serverMetricsUrl)).model,
      this.metrics,
      this.log.child({ kind: 'model' }),
      { limits, ...(config.maxModelBytes !== undefined ? { maxBytes: config.maxModelBytes } : {}) },
    );
    this.snapshotSync = new SnapshotSync(
      this.snapshotSource,
      this.snapshotVolume,
      {
        keep: config.keep,
        refusedRetryMs: config.refusedRetryMs,
        expectedFingerprint: () => this.model?.towerFingerprint ?? config.model.fingerprint,
        inUse: async () => (await serverVersions(config.serverMetricsUrl)).snapshot,
        onLatest: async (version) => {
          await this.podStatus?.latest(version);
        },
        limits,
      },
      this.metrics,
      this.log.child({ kind: 'snapshot' }),
    );
  }

  /** True once a good model and a good snapshot are in place. */
  get ready(): boolean {
    return this.model !== undefined && this.snapshotVersion !== undefined;
  }

  /** Prepares the volume (removing temp leftovers) and starts the loop in the background. */
  async start(): Promise<void> {
    await this.modelVolume.init();
    await this.snapshotVolume.init();
    this.loop = this.run();
  }

  /** Stops after the step in progress; closes the sources. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.modelSource.close();
    this.snapshotSource.close();
  }

  private async run(): Promise<void> {
    while (!this.stopping && !this.model) {
      try {
        this.model = await this.modelSync.ensure();
        this.metrics.published('model', this.model.version);
        this.backoff.reset();
        if (this.modelRefusalReported) await this.podStatus?.accepted('model');
        // A snapshot published by an earlier run of this pod was verified then: serve it meanwhile.
        await this.setSnapshot(await this.snapshotVolume.current());
      } catch (err) {
        const delay = this.backoff.next();
        await this.report('model', err, delay);
        await this.sleep(delay);
      }
    }
    while (!this.stopping) {
      let delay: number;
      try {
        const result = await this.snapshotSync.pollOnce();
        if (result.outcome === 'current' && this.snapshotRefusal !== undefined) {
          // LATEST names the served version again (a rollback of a bad one): the refusal is moot.
          this.snapshotRefusal = undefined;
          await this.podStatus?.accepted('snapshot');
        }
        if (result.outcome !== 'refused_before') {
          await this.setSnapshot(result.version);
          this.metrics.lastSuccess.set({ kind: 'snapshot' }, Date.now() / 1000);
        }
        this.backoff.reset();
        delay = jittered(this.config.pollMs, this.config.jitter, this.random);
      } catch (err) {
        delay =
          err instanceof RefusedError
            ? jittered(this.config.pollMs, this.config.jitter, this.random)
            : this.backoff.next();
        await this.report('snapshot', err, delay);
      }
      await this.sleep(delay);
    }
  }

  private async setSnapshot(version: string | undefined): Promise<void> {
    if (version === undefined || version === this.snapshotVersion) return;
    this.snapshotVersion = version;
    this.snapshotRefusal = undefined; // `served` removes it from the pod
    this.metrics.published('snapshot', version);
    this.metrics.ready.set(this.ready ? 1 : 0);
    if (this.model)
      await this.podStatus?.served({
        snapshotVersion: version,
        snapshotCreatedAt: await this.snapshotCreatedAt(version),
        modelVersion: this.model.version,
      });
  }

  /** createdAt of a published snapshot's manifest; undefined when it cannot be read. */
  private async snapshotCreatedAt(version: string): Promise<string | undefined> {
    try {
      const text = await readFile(path.join(this.snapshotVolume.dir, version, MANIFEST_FILE), 'utf8');
      const createdAt = (JSON.parse(text) as { createdAt?: unknown }).createdAt;
      return typeof createdAt === 'string' ? createdAt : undefined;
    } catch {
      return undefined;
    }
  }

  /** The one failure handler: log line, metric, and an Event for what a person must look at. */
  private async report(kind: Kind, err: unknown, retryInMs: number): Promise<void> {
    const cause = failureCause(err);
    this.metrics.failures.inc({ kind, cause });
    const fields = { cause, err: (err as Error).message, retryInMs: Math.round(retryInMs) };
    if (err instanceof RefusedError) {
      this.log.error(fields, `${kind} refused; the last good one stays`);
      await this.events?.warn(kind === 'model' ? 'ModelRefused' : 'SnapshotRefused', fields.err);
      if (kind === 'model') {
        await this.podStatus?.refused('model', this.config.model.version, `${err.refusal}: ${fields.err}`);
        this.modelRefusalReported = true;
      }
      const subject = this.snapshotSync.refusalSubject;
      const value = `${subject}: ${err.refusal}: ${fields.err}`;
      if (kind === 'snapshot' && subject && value !== this.snapshotRefusal) {
        this.snapshotRefusal = value;
        await this.podStatus?.refused('snapshot', subject, `${err.refusal}: ${fields.err}`);
      }
    } else if (err instanceof LocalWriteError) {
      this.log.error(
        { ...fields, path: err.path },
        `${kind} sync could not write to the volume; old version kept`,
      );
      await this.events?.warn('SyncWriteFailed', fields.err);
    } else if (cause === 'internal') {
      this.log.error({ ...fields, stack: (err as Error).stack }, `${kind} sync failed`);
    } else {
      this.log.warn(fields, `${kind} source error; backing off`);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
