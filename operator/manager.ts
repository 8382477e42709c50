// Wires the operator together: API client, informers, work queue, reconciler, controller,
// leader election, HTTP endpoints. Only the leader runs informers and reconciles; losing the
// lease stops the work and reports `lost` (the entry point exits so the pod restarts as a
// candidate). stop() is the graceful shutdown: stop taking work, finish the reconciles in
// flight, release the lease, close the endpoints.
import { EventEmitter } from 'node:events';
import type { Registry } from 'prom-client';
import type { Logger } from '../lib/logger.js';
import type { BackoffOptions } from './runtime/backoff.js';
import { LABEL_MODEL, MANAGED_SELECTOR, type Deployment, type Service } from './builders.js';
import type { OperatorConfig } from './config.js';
import { Controller } from './runtime/controller.js';
import { EventRecorder } from './runtime/events.js';
import { startHttp } from './runtime/http.js';
import { FIELD_MANAGER, KubeClient } from './runtime/kube/client.js';
import type { ClusterCredentials } from './runtime/kube/kubeconfig.js';
import { Informer } from './runtime/kube/informer.js';
import {
  DEPLOYMENTS,
  SERVICES,
  keyOf,
  type KubeObject,
  type ResourceRef,
  CONFIGMAPS,
  HTTPROUTES,
  HORIZONTALPODAUTOSCALERS,
  PODS,
  SCALEDOBJECTS,
  ROLEBINDINGS,
  JOBS,
  ROLES,
  SERVICEACCOUNTS,
} from './runtime/kube/types.js';
import { OwnedObjects } from './runtime/kube/owned.js';
import { LeaderElector } from './runtime/leader.js';
import { WorkQueue } from './runtime/queue.js';
import { RANKING_MODELS, RankingModelReconciler } from './reconciler.js';
import { podForCache } from './pod-cache.js';
import { isSharedIdentity } from './identity.js';
import { isSharedRouterObject } from './traffic/router/shared.js';
import { createOperatorMetrics, type OperatorMetrics } from './runtime/telemetry.js';
import { KIND } from '../api/rankingmodel.js';

export interface Timings {
  /** Per-key retry backoff of failed reconciles. */
  retry: BackoffOptions;
  /** Informer reconnect backoff. */
  reconnect: BackoffOptions;
  /** How often a cluster that served no HTTPRoutes is asked again (the CRDs may come later). */
  discoverMs: number;
}

export const DEFAULT_TIMINGS: Timings = {
  retry: { baseMs: 500, maxMs: 300_000, jitter: 0.1 },
  reconnect: { baseMs: 500, maxMs: 30_000, jitter: 0.2 },
  discoverMs: 60_000,
};

export class Operator extends EventEmitter<{ lost: []; leading: [] }> {
  readonly metrics: OperatorMetrics;
  private readonly client: KubeClient;
  private readonly elector: LeaderElector | undefined;
  private running:
    | {
        queue: WorkQueue;
        controller: Controller;
        informers: Informer<KubeObject>[];
        events: EventRecorder;
        resync: NodeJS.Timeout;
        /** while the cluster serves no HTTPRoutes: asks again, and restarts the caches once it does */
        discover?: NodeJS.Timeout;
      }
    | undefined;
  private starting: Promise<void> | undefined;
  private http: { port: number; close(): Promise<void> } | undefined;
  private stopping = false;
  /** Bumped by every stopWork, so a start that was waiting on the API server can tell. */
  private generation = 0;
  private discovering = false;

  constructor(
    private readonly cfg: OperatorConfig,
    private readonly kc: ClusterCredentials,
    private readonly logger: Logger,
    private readonly registry: Registry,
    private readonly timings: Timings = DEFAULT_TIMINGS,
  ) {
    super();
    this.metrics = createOperatorMetrics(registry, () => this.running?.queue.length ?? 0);
    const userAgent = `${FIELD_MANAGER}/${cfg.leaderElection.identity}`;
    this.client = new KubeClient(kc, { observe: this.metrics.observeCall, userAgent });
    if (cfg.leaderElection.enabled) {
      const le = cfg.leaderElection;
      this.elector = new LeaderElector(
        // its own client: lease calls time out within a retry period and never queue behind reconciles
        new KubeClient(kc, {
          observe: this.metrics.observeCall,
          requestTimeoutMs: le.retryPeriodMs,
          userAgent,
        }),
        {
          namespace: le.leaseNamespace,
          name: le.leaseName,
          identity: le.identity,
          leaseDurationMs: le.leaseDurationMs,
          renewDeadlineMs: le.renewDeadlineMs,
          retryPeriodMs: le.retryPeriodMs,
          logger,
        },
        {
          onStartedLeading: () => {
            this.metrics.isLeader.set(1);
            this.emit('leading');
            void this.startWork();
          },
          onStoppedLeading: () => {
            this.metrics.isLeader.set(0);
            this.logger.error('lost the leader lease; stopping work');
            void this.stopWork().then(() => this.emit('lost'));
          },
        },
      );
    }
  }

  /** Port the HTTP endpoints listen on (after start). */
  get port(): number {
    return this.http?.port ?? 0;
  }

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : true;
  }

  /** Ready: caches synced when leading; a follower is ready to take over. */
  get ready(): boolean {
    if (this.stopping) return false;
    if (this.elector && !this.elector.isLeader) return true;
    return this.running?.informers.every((i) => i.hasSynced) ?? false;
  }

  async start(): Promise<void> {
    this.http = await startHttp(this.cfg.port, this.cfg.bindAddress, this.registry, {
      ready: () => this.ready,
    });
    if (this.elector) this.elector.start();
    else {
      this.metrics.isLeader.set(1);
      await this.startWork();
    }
  }

  /** Enqueue every RankingModel (the periodic resync; tests call it directly). */
  resync(): number {
    const r = this.running;
    if (!r) return 0;
    const models = r.informers[0]!.list();
    for (const m of models) r.queue.add(keyOf(m));
    return models.length;
  }

  /** Graceful shutdown. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.stopWork();
    await this.elector?.stop();
    this.metrics.isLeader.set(0);
    await this.http?.close();
    this.client.close();
  }

  private startWork(): Promise<void> {
    this.starting ??= this.doStartWork();
    return this.starting;
  }

  private async doStartWork(): Promise<void> {
    if (this.running || this.stopping) return;
    const log = this.logger;
    const ns = this.cfg.watchNamespace || undefined;
    const queue = new WorkQueue({ backoff: this.timings.retry });
    const informer = <T extends KubeObject>(
      ref: ResourceRef,
      labelSelector?: string,
      transform?: (obj: KubeObject) => KubeObject,
    ): Informer<T> =>
      new Informer<T>(this.client, {
        ref,
        namespace: ns,
        labelSelector,
        backoff: this.timings.reconnect,
        logger: log,
        ...(transform ? { transform } : {}),
      });
    const models = informer<KubeObject>(RANKING_MODELS);
    const deployments = informer<Deployment>(DEPLOYMENTS, MANAGED_SELECTOR);
    const services = informer<Service>(SERVICES, MANAGED_SELECTOR);
    const pods = informer<KubeObject>(PODS, MANAGED_SELECTOR, podForCache);
    // every other kind the operator writes, so reconciles read caches, not the API server;
    // HTTPRoutes only where the cluster serves them (the Gateway API CRDs are optional)
    const ownedKinds = [CONFIGMAPS, SERVICEACCOUNTS, ROLES, ROLEBINDINGS, JOBS, HORIZONTALPODAUTOSCALERS];
    const generation = this.generation;
    const routes = await this.client.serves(HTTPROUTES).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'API discovery failed; HTTPRoutes taken as not served for now');
      return false;
    });
    // KEDA's ScaledObjects only where KEDA's CRDs are installed (read at start)
    const keda = await this.client.serves(SCALEDOBJECTS).catch(() => false);
    if (generation !== this.generation || this.stopping) return; // stopped meanwhile
    if (routes) ownedKinds.push(HTTPROUTES);
    if (keda) ownedKinds.push(SCALEDOBJECTS);
    else
      log.info(
        { askAgainSeconds: this.timings.discoverMs / 1000 },
        'the cluster serves no HTTPRoutes (Gateway API CRDs absent); asking again periodically',
      );
    const others = ownedKinds.map((ref) => [ref, informer<KubeObject>(ref, MANAGED_SELECTOR)] as const);
    const owned = new OwnedObjects(
      this.client,
      [[DEPLOYMENTS, deployments], [SERVICES, services], ...others] as [ResourceRef, Informer<KubeObject>][],
      [...(routes ? [] : [HTTPROUTES]), ...(keda ? [] : [SCALEDOBJECTS])],
    );
    const events = new EventRecorder(this.client, this.cfg.leaderElection.identity, log);

    models.on((event, obj) => {
      if (event === 'delete' && obj.metadata.uid) events.forget(obj.metadata.uid);
      queue.add(keyOf(obj));
    });
    // an owned object changed (status, a hand edit, a deletion): reconcile its owner
    const toOwner = (ref: ResourceRef) => (event: string, obj: KubeObject) => {
      const owner = obj.metadata.ownerReferences?.find((r) => r.controller && r.kind === KIND);
      if (owner && obj.metadata.namespace) queue.add(`${obj.metadata.namespace}/${owner.name}`);
      // a shared identity or router has no owner: a change or deletion of it concerns every model of
      // its namespace (their next pass re-applies it; the router's readiness is their Ready); its
      // creation, by one of them, concerns none. The shared router's table changes with every
      // model's key: only its deletion concerns them all.
      else if (
        event !== 'add' &&
        (isSharedIdentity(obj) || (isSharedRouterObject(obj) && (ref !== CONFIGMAPS || event === 'delete')))
      )
        for (const m of models.list((m) => m.metadata.namespace === obj.metadata.namespace))
          queue.add(keyOf(m));
    };
    for (const [ref, inf] of [[DEPLOYMENTS, deployments], [SERVICES, services], ...others] as const)
      inf.on(toOwner(ref));
    // a scoring pod (owned by a ReplicaSet) came, went or was annotated by its sidecar: its model
    pods.on((_event, pod) => {
      const model = pod.metadata.labels?.[LABEL_MODEL];
      if (model && pod.metadata.namespace) queue.add(`${pod.metadata.namespace}/${model}`);
    });

    const reconciler = new RankingModelReconciler({
      client: this.client,
      models,
      deployments,
      services,
      owned,
      pods,
      events,
      defaults: {
        image: this.cfg.serverImage,
        sidecarImage: this.cfg.sidecarImage,
        routerImage: this.cfg.routerImage,
        imagePullPolicy: this.cfg.imagePullPolicy,
      },
    });
    const controller = new Controller(queue, (key, l) => reconciler.reconcile(key, l), {
      workers: this.cfg.workers,
      logger: log,
      metrics: this.metrics,
    });
    const all = [models, deployments, services, pods, ...others.map(([, i]) => i)] as Informer<KubeObject>[];
    const resync = setInterval(() => this.resync(), this.cfg.resyncPeriodMs);
    resync.unref();
    const discover = routes
      ? undefined
      : setInterval(() => void this.discoverRoutes(generation), this.timings.discoverMs);
    discover?.unref();
    this.running = { queue, controller, informers: all, events, resync, ...(discover ? { discover } : {}) };
    for (const i of all) i.start();
    // reconcile only once every cache is filled, or a missing Deployment would look deleted
    await Promise.all(all.map((i) => i.waitForSync()));
    if (this.running?.controller !== controller) return; // stopped meanwhile
    log.info({ namespace: ns ?? '(all)', models: models.list().length }, 'caches synced; reconciling');
    controller.start();
    // shared identities of namespaces whose last model went while no operator ran (identity.ts)
    const accounts = others.find(([ref]) => ref === SERVICEACCOUNTS)![1];
    const holding = new Set(accounts.list(isSharedIdentity).map((sa) => sa.metadata.namespace!));
    for (const namespace of holding)
      await reconciler
        .collectIdentities(namespace, log)
        .catch((err: unknown) =>
          log.warn({ namespace, err: String(err) }, 'could not collect shared identities'),
        );
  }

  /**
   * The Gateway API CRDs were absent when the work started; once the cluster serves HTTPRoutes,
   * restart the work so they are cached like every other owned kind (until then lists of them are
   * empty without asking, and a route of a removed segment would never be pruned).
   */
  private async discoverRoutes(generation: number): Promise<void> {
    if (this.discovering || generation !== this.generation || !this.running) return;
    this.discovering = true;
    try {
      if (!(await this.client.serves(HTTPROUTES).catch(() => false))) return;
      if (generation !== this.generation || this.stopping) return;
      this.logger.info(
        'the cluster serves HTTPRoutes now (Gateway API CRDs installed); restarting the caches',
      );
      await this.stopWork();
      if (this.isLeader && !this.stopping) await this.startWork();
    } finally {
      this.discovering = false;
    }
  }

  private async stopWork(): Promise<void> {
    this.generation++;
    const r = this.running;
    this.running = undefined;
    this.starting = undefined;
    if (!r) return;
    clearInterval(r.resync);
    clearInterval(r.discover);
    await r.controller.stop();
    await r.events.flush();
    await Promise.all(r.informers.map((i) => i.stop()));
  }
}
