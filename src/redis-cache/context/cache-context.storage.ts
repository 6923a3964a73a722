import { AsyncLocalStorage } from 'node:async_hooks';
import { ContextualCache } from '../contextual-cache';
import type { CacheLoader } from '../contextual-cache';
import { MissingCacheContextError } from '../errors/redis-cache.errors';
import { outsideRequestContextMessage } from '../errors/messages';
import type { CacheLookup } from '../redis-cache.interfaces';

/** What a request's context holds: its cache, or why it has none (a route without the params). */
export type CacheContextSlot = ContextualCache | MissingCacheContextError;

/**
 * One AsyncLocalStorage for the process, created on first use: on Node 20 an active
 * AsyncLocalStorage slows every `await` in the process, so an app that never needs one must never
 * create one. One is enough for several apps in a process: a slot holds its own app's cache.
 */
let storage: AsyncLocalStorage<CacheContextSlot> | undefined;

/** Runs `fn` with `slot` as the current request's cache. */
export function runInCacheContext<R>(slot: CacheContextSlot, fn: () => R): R {
  storage ??= new AsyncLocalStorage();
  return storage.run(slot, fn);
}

/** Whether this process has created its AsyncLocalStorage (for tests and diagnostics). */
export function asyncCacheContextCreated(): boolean {
  return storage !== undefined;
}

/** The current request's cache; throws `MissingCacheContextError` when there is none. */
export function currentCache(): ContextualCache {
  const slot = storage?.getStore();
  if (slot instanceof ContextualCache) return slot;
  throw slot ?? new MissingCacheContextError(outsideRequestContextMessage());
}

/** Delegates every call to the cache `resolve` gives at the time of the call. */
class DelegatingCache extends ContextualCache {
  constructor(private readonly resolve: () => ContextualCache) {
    super();
  }

  get appId(): string {
    return this.resolve().appId;
  }

  get deviceId(): string {
    return this.resolve().deviceId;
  }

  keyFor(key: string): string {
    return this.resolve().keyFor(key);
  }

  get(key: string): Promise<CacheLookup> {
    return this.resolve().get(key);
  }

  set(key: string, value: string | Buffer, ttlSeconds?: number): Promise<void> {
    return this.resolve().set(key, value, ttlSeconds);
  }

  delete(key: string): Promise<boolean> {
    return this.resolve().delete(key);
  }

  getOrSet(key: string, loader: CacheLoader, ttlSeconds?: number): Promise<Buffer> {
    return this.resolve().getOrSet(key, loader, ttlSeconds);
  }

  flushApp(): Promise<number> {
    return this.resolve().flushApp();
  }

  flushDevice(): Promise<number> {
    return this.resolve().flushDevice();
  }

  stats(): Promise<number> {
    return this.resolve().stats();
  }
}

/** The object every class that injects `ContextualCache` (outside request scope) receives. */
export const requestContextualCache: ContextualCache = new DelegatingCache(currentCache);

/** The cache of a slot: the slot's cache, or one that throws the slot's error when used. */
export function cacheOfSlot(slot: CacheContextSlot): ContextualCache {
  if (slot instanceof ContextualCache) return slot;
  return new DelegatingCache(() => {
    throw slot;
  });
}
