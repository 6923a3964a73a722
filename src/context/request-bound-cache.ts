import { ContextualCache } from '../contextual-cache';
import type { CacheLoader } from '../contextual-cache';
import type { CacheLookup, NamespaceOperationOptions } from '../redis-cache.interfaces';

/**
 * A `ContextualCache` that holds no scope of its own: each call goes to the cache `resolve` gives
 * at that moment (the current request's), so one object serves every request and may be kept
 * anywhere. Where there is none, the async members reject and the others throw the resolver's error.
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
    return this.call((cache) => cache.get(key));
  }

  set(key: string, value: string | Buffer, ttlSeconds?: number): Promise<void> {
    return this.call((cache) => cache.set(key, value, ttlSeconds));
  }

  delete(key: string): Promise<boolean> {
    return this.call((cache) => cache.delete(key));
  }

  getOrSet(key: string, loader: CacheLoader, ttlSeconds?: number): Promise<Buffer> {
    return this.call((cache) => cache.getOrSet(key, loader, ttlSeconds));
  }

  flushApp(options?: NamespaceOperationOptions): Promise<number> {
    return this.call((cache) => cache.flushApp(options));
  }

  flushDevice(options?: NamespaceOperationOptions): Promise<number> {
    return this.call((cache) => cache.flushDevice(options));
  }

  stats(options?: NamespaceOperationOptions): Promise<number> {
    return this.call((cache) => cache.stats(options));
  }

  private call<T>(operation: (cache: ContextualCache) => Promise<T>): Promise<T> {
    try {
      return operation(this.resolve());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
