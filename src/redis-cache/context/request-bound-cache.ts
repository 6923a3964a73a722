import { ContextualCache } from '../contextual-cache';
import type { CacheLoader } from '../contextual-cache';
import type { CacheLookup } from '../redis-cache.interfaces';

/**
 * A `ContextualCache` that holds no scope of its own: each call goes to the cache `resolve` gives
 * at that moment (the current request's). One object serves every request, so a controller or
 * service may keep it, hand it to helpers or capture it anywhere. A call that cannot be resolved
 * rejects (or, for the synchronous members, throws) with the resolver's error.
 */
export class RequestBoundCache extends ContextualCache {
  constructor(private readonly resolve: () => ContextualCache) {
    super();
  }

  override pin(): ContextualCache {
    return this.resolve();
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
    const cache = this.resolveOrReject();
    return cache instanceof Promise ? cache : cache.get(key);
  }

  set(key: string, value: string | Buffer, ttlSeconds?: number): Promise<void> {
    const cache = this.resolveOrReject();
    return cache instanceof Promise ? cache : cache.set(key, value, ttlSeconds);
  }

  delete(key: string): Promise<boolean> {
    const cache = this.resolveOrReject();
    return cache instanceof Promise ? cache : cache.delete(key);
  }

  getOrSet(key: string, loader: CacheLoader, ttlSeconds?: number): Promise<Buffer> {
    const cache = this.resolveOrReject();
    return cache instanceof Promise ? cache : cache.getOrSet(key, loader, ttlSeconds);
  }

  flushApp(): Promise<number> {
    const cache = this.resolveOrReject();
    return cache instanceof Promise ? cache : cache.flushApp();
  }

  flushDevice(): Promise<number> {
    const cache = this.resolveOrReject();
    return cache instanceof Promise ? cache : cache.flushDevice();
  }

  stats(): Promise<number> {
    const cache = this.resolveOrReject();
    return cache instanceof Promise ? cache : cache.stats();
  }

  /** Async members reject, as any async method does, rather than throw. */
  private resolveOrReject(): ContextualCache | Promise<never> {
    try {
      return this.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
