// A list+watch cache of one kind (client-go's reflector + store, client-node's ListWatch with
// more control): lists (paged), then watches from the list's resourceVersion; relists at once
// on 410 Gone; reconnects with capped exponential backoff after any other failure (API server
// down, connection dropped); the delays are injectable so tests run fast. Handlers see every
// add / update / delete, including the differences a relist discovers.
import type { Logger } from '../../../lib/logger.js';
import { Backoff, type BackoffOptions } from '../backoff.js';
import { isGone, type KubeClient, type WatchHandle } from './client.js';
import { apiVersionOf, keyOf, type KubeObject, type ResourceRef } from './types.js';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (event: InformerEvent, obj: T) => void;

export interface InformerOptions {
  ref: ResourceRef;
  /** Namespace to watch; undefined for all namespaces. */
  namespace?: string;
  labelSelector?: string;
  backoff: BackoffOptions;
  /** Server-side watch timeout; the watch is renewed from the last resourceVersion after it. */
  watchTimeoutSeconds?: number;
  pageSize?: number;
  /**
   * What of each object the cache keeps (client-go's TransformFunc): applied to every listed
   * object and every watch event before it is cached or handed to the handlers. Default:
   * `withoutManagedFields`. A transform must keep metadata.resourceVersion.
   */
  transform?: (obj: KubeObject) => KubeObject;
  /**
   * Told of every list or watch failure (not 410 Gone) before the retry (client-go's
   * WatchErrorHandler): e.g. to tell a refused list (401/403) apart from a dropped connection.
   */
  onError?: (err: unknown) => void;
  logger: Logger;
}

/**
 * The object without metadata.managedFields: server-side apply's bookkeeping, often the largest
 * part of an object, and nothing a controller reads from its cache.
 */
export function withoutManagedFields(obj: KubeObject): KubeObject {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly backoff: Backoff;
  private readonly transform: (obj: KubeObject) => KubeObject;
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private stopped = false;
  private current: WatchHandle | undefined;
  /** Aborts a watch still connecting when stop() is called. */
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: InformerOptions,
  ) {
    this.backoff = new Backoff(opts.backoff);
    this.transform = opts.transform ?? withoutManagedFields;
  }

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stop watching; a pending waitForSync() resolves (check hasSynced). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.syncWaiters.splice(0)) w();
    this.abort.abort();
    this.current?.stop();
    this.wake?.();
    await this.loop;
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(filter?: (obj: T) => boolean): T[] {
    const all = [...this.cache.values()];
    return filter ? all.filter(filter) : all;
  }

  private async run(): Promise<void> {
    const kind = this.opts.ref.kind;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        const started = Date.now();
        const { events, gone } = await this.watchOnce();
        if (gone) {
          // our resourceVersion is older than the API server keeps (compaction, a restarted
          // watch cache): start over from a list
          this.opts.logger.info({ kind }, 'watch expired (410 Gone); relisting');
          this.resourceVersion = '';
          continue;
        }
        if (events > 0 || Date.now() - started >= 1000) {
          this.backoff.reset();
          continue;
        }
        // the server ended the watch at once with nothing in it: do not spin
        await this.sleep(this.backoff.next());
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          this.opts.logger.info({ kind }, 'watch refused (410 Gone); relisting');
          this.resourceVersion = '';
          continue;
        }
        this.opts.onError?.(err);
        const delay = this.backoff.next();
        this.opts.logger.warn({ kind, err: String(err), retryInMs: delay }, 'list/watch failed; retrying');
        await this.sleep(delay);
      }
    }
  }

  private async relist(): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.client.list<T>(this.opts.ref, this.opts.namespace, {
        labelSelector: this.opts.labelSelector,
        limit: this.opts.pageSize ?? 500,
        continue: cont,
      });
      // list items come without apiVersion/kind; watch events carry them: make both alike
      for (const item of page.items)
        items.push(
          this.transform({ apiVersion: apiVersionOf(this.opts.ref), kind: this.opts.ref.kind, ...item }) as T,
        );
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? '';
    } while (cont);
    const seen = new Set<string>();
    for (const item of items) {
      const key = keyOf(item);
      seen.add(key);
      this.upsert(key, item);
    }
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('delete', old);
      }
    }
    this.resourceVersion = rv;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  /** One watch from the cached resourceVersion until it ends; says whether it ended in 410 Gone. */
  private async watchOnce(): Promise<{ events: number; gone: boolean }> {
    let gone = false;
    let endedByEvent = false;
    let events = 0;
    const handle: WatchHandle = await this.client.watch(
      this.opts.ref,
      this.opts.namespace,
      {
        resourceVersion: this.resourceVersion,
        labelSelector: this.opts.labelSelector,
        timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300,
      },
      (ev) => {
        if (endedByEvent) return;
        if (ev.type === 'ERROR') {
          if (ev.object.code === 410) gone = true;
          else this.opts.logger.warn({ kind: this.opts.ref.kind, status: ev.object }, 'watch error event');
          endedByEvent = true;
          handle.stop();
          return;
        }
        events++;
        const rv = (ev.object as unknown as KubeObject).metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (ev.type === 'BOOKMARK') return;
        const obj = this.transform(ev.object as unknown as KubeObject) as T;
        const key = keyOf(obj);
        if (ev.type === 'DELETED') {
          this.cache.delete(key);
          this.emit('delete', obj);
        } else this.upsert(key, obj);
      },
      this.abort.signal,
    );
    this.current = handle;
    if (this.stopped) handle.stop();
    try {
      await handle.done;
    } catch (err) {
      // closing the stream after an ERROR event aborts it: that is not a failure of its own
      if (!endedByEvent) throw err;
    } finally {
      this.current = undefined;
    }
    return { events, gone };
  }

  private upsert(key: string, obj: T): void {
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    if (!old) this.emit('add', obj);
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('update', obj);
  }

  private emit(event: InformerEvent, obj: T): void {
    for (const h of this.handlers) h(event, obj);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
