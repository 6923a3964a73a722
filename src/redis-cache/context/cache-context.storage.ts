import { AsyncLocalStorage } from 'node:async_hooks';
import { ContextualCache } from '../contextual-cache';
import { MissingCacheContextError } from '../errors/redis-cache.errors';
import { outsideRequestContextMessage } from '../errors/messages';
import type { CacheLookup } from '../redis-cache.interfaces';

/** What a request's context holds: its cache, or why it has none (a route without the params). */
export type CacheContextSlot = ContextualCache | MissingCacheContextError;

/**
 * One AsyncLocalStorage for the process, created on first use: on Node 20 an active
 * AsyncLocalStorage slows every `await` in the process, so an app that never injects
 * `ContextualCache` must never create one. One is enough for several apps in a process: a slot
 * holds its own app's cache.
 */
let storage: AsyncLocalStorage<CacheContextSlot> | undefined;

/** Runs `fn` with `slot` as the current request's cache. */
export function runInCacheContext<R>(slot: CacheContextSlot, fn: () => R): R {
  storage ??= new AsyncLocalStorage();
  return storage.run(slot, fn);
}

/** The current request's cache; throws `MissingCacheContextError` when there is none. */
export function currentCache(): ContextualCache {
  const slot = storage?.getStore();
  if (slot instanceof ContextualCache) return slot;
  throw slot ?? new MissingCacheContextError(outsideRequestContextMessage());
}

/** Delegates every call to the cache of the request being handled. */
class RequestContextualCache extends ContextualCache {
  get appId(): string {
    return currentCache().appId;
  }

  get deviceId(): string {
    return currentCache().deviceId;
  }

  keyFor(key: string): string {
    return currentCache().keyFor(key);
  }

  get(key: string): Promise<CacheLookup> {
    return currentCache().get(key);
  }

  set(key: string, value: string | Buffer, ttlSeconds?: number): Promise<void> {
    return currentCache().set(key, value, ttlSeconds);
  }

  delete(key: string): Promise<boolean> {
    return currentCache().delete(key);
  }

  flushApp(): Promise<number> {
    return currentCache().flushApp();
  }

  flushDevice(): Promise<number> {
    return currentCache().flushDevice();
  }

  stats(): Promise<number> {
    return currentCache().stats();
  }
}

/** The object every class that injects `ContextualCache` (outside request scope) receives. */
export const requestContextualCache: ContextualCache = new RequestContextualCache();
