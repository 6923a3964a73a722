import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { ContextualCache } from '../contextual-cache';
import { MissingCacheContextError } from '../errors/redis-cache.errors';
import { outsideRequestContextMessage } from '../errors/messages';
import type { CacheLookup } from '../redis-cache.interfaces';

/** What a request's context holds: its cache, or why it has none (a route without the params). */
export type CacheContextSlot = ContextualCache | MissingCacheContextError;

/**
 * The current request's cache, for singletons that inject `ContextualCache`.
 *
 * The AsyncLocalStorage is created on first use: on Node 20 an active AsyncLocalStorage slows every
 * `await` in the process, so an app that never injects `ContextualCache` must never create one.
 */
@Injectable()
export class CacheContextStorage {
  private storage: AsyncLocalStorage<CacheContextSlot> | undefined;

  /** The proxy handed to every class that injects `ContextualCache`. */
  readonly cache: ContextualCache = new RequestContextualCache(this);

  /** Runs `fn` with `slot` as the current context. */
  run<R>(slot: CacheContextSlot, fn: () => R): R {
    this.storage ??= new AsyncLocalStorage();
    return this.storage.run(slot, fn);
  }

  /** The current request's cache; throws `MissingCacheContextError` when there is none. */
  current(): ContextualCache {
    const slot = this.storage?.getStore();
    if (slot instanceof ContextualCache) return slot;
    throw slot ?? new MissingCacheContextError(outsideRequestContextMessage());
  }
}

/** Delegates every call to the cache of the request being handled. */
class RequestContextualCache extends ContextualCache {
  constructor(private readonly storage: CacheContextStorage) {
    super();
  }

  get appId(): string {
    return this.storage.current().appId;
  }

  get deviceId(): string {
    return this.storage.current().deviceId;
  }

  keyFor(key: string): string {
    return this.storage.current().keyFor(key);
  }

  get(key: string): Promise<CacheLookup> {
    return this.storage.current().get(key);
  }

  set(key: string, value: string | Buffer, ttlSeconds?: number): Promise<void> {
    return this.storage.current().set(key, value, ttlSeconds);
  }

  delete(key: string): Promise<boolean> {
    return this.storage.current().delete(key);
  }

  flushApp(): Promise<number> {
    return this.storage.current().flushApp();
  }

  flushDevice(): Promise<number> {
    return this.storage.current().flushDevice();
  }

  stats(): Promise<number> {
    return this.storage.current().stats();
  }
}
