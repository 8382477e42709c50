// The model registry: the one model name this server serves and the version serving it now.
// Swapping is one assignment, so a request sees either the old or the new version, never a mix;
// a request holds the version it acquired until it releases it, and the old version closes only
// after its last request is done.
//
// API:
//   new ModelRegistry(name)
//   registry.acquire(name) → ServedVersion   throws MODEL_NOT_FOUND / MODEL_NOT_READY / SHUTTING_DOWN
//   registry.peek(name) → ServedVersion | undefined   (404 for other names)
//   registry.swap(version) → retires and returns the previous one
//   registry.ready; registry.close() → Promise<void>
import { modelNotFound, modelNotReady, shuttingDown } from '../errors.js';
import type { ServedVersion } from './version.js';

export class ModelRegistry {
  private current: ServedVersion | undefined;
  private closed = false;

  constructor(readonly name: string) {}

  get ready(): boolean {
    return !this.closed && this.current !== undefined && this.current.healthy;
  }

  get version(): ServedVersion | undefined {
    return this.current;
  }

  peek(name: string): ServedVersion | undefined {
    if (name !== this.name) throw modelNotFound(name);
    return this.current;
  }

  acquire(name: string): ServedVersion {
    if (name !== this.name) throw modelNotFound(name);
    if (this.closed) throw shuttingDown();
    const v = this.current;
    if (!v) throw modelNotReady(name);
    v.acquire();
    return v;
  }

  swap(next: ServedVersion): ServedVersion | undefined {
    const previous = this.current;
    this.current = next;
    if (previous) void previous.retire();
    return previous;
  }

  /** Refuses new requests; resolves when the serving version's requests are done and its workers closed. */
  async close(): Promise<void> {
    this.closed = true;
    await this.current?.retire();
  }
}
