import type { CacheFailureHandler } from './cache-failure.handler';
import type { TtlPolicy } from './cache-ttl';
import { CACHE_MISS, ContextualCache } from './contextual-cache';
import { InvalidCacheValueError } from './errors/redis-cache.errors';
import { assertValidContextId, namespacePrefix, normalizeKey } from './keys/cache-key';
import type { CacheLookup } from './redis-cache.interfaces';
import type { CacheStore } from './stores/cache-store.interface';

/** What every scoped cache of one `RedisCache` shares. */
export interface CacheRuntime {
  readonly store: CacheStore;
  readonly ttl: TtlPolicy;
  readonly failures: CacheFailureHandler;
}

/** `ContextualCache` bound to one app and device; cheap to create (a string and two references). */
export class ScopedCache extends ContextualCache {
  private readonly prefix: string;

  constructor(
    private readonly runtime: CacheRuntime,
    readonly appId: string,
    readonly deviceId: string,
  ) {
    super();
    assertValidContextId('appId', appId);
    assertValidContextId('deviceId', deviceId);
    this.prefix = namespacePrefix(appId, deviceId);
  }

  keyFor(key: string): string {
    return this.prefix + normalizeKey(key);
  }

  async get(key: string): Promise<CacheLookup> {
    const redisKey = this.keyFor(key);
    try {
      const value = await this.runtime.store.get(redisKey);
      return value === null ? CACHE_MISS : { found: true, value };
    } catch (error) {
      return this.runtime.failures.recover('get', error, CACHE_MISS);
    }
  }

  async set(key: string, value: string | Buffer, ttlSeconds?: number): Promise<void> {
    const redisKey = this.keyFor(key);
    const ttl = this.runtime.ttl.resolve(ttlSeconds);
    if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
      throw new InvalidCacheValueError(
        `set(${JSON.stringify(key)}): the value must be a string or a Buffer, got ${value === null ? 'null' : typeof value}.`,
      );
    }
    try {
      await this.runtime.store.set(redisKey, value, ttl);
    } catch (error) {
      this.runtime.failures.recover('set', error, undefined);
    }
  }

  async delete(key: string): Promise<boolean> {
    const redisKey = this.keyFor(key);
    try {
      return await this.runtime.store.delete(redisKey);
    } catch (error) {
      return this.runtime.failures.recover('delete', error, false);
    }
  }

  async flushApp(): Promise<number> {
    try {
      return await this.runtime.store.deleteNamespace({
        appId: this.appId,
        deviceId: this.deviceId,
      });
    } catch (error) {
      return this.runtime.failures.reject('flush_app', error);
    }
  }

  async flushDevice(): Promise<number> {
    try {
      return await this.runtime.store.deleteNamespace({ deviceId: this.deviceId });
    } catch (error) {
      return this.runtime.failures.reject('flush_device', error);
    }
  }

  async stats(): Promise<number> {
    try {
      return await this.runtime.store.countNamespace({
        appId: this.appId,
        deviceId: this.deviceId,
      });
    } catch (error) {
      return this.runtime.failures.reject('stats', error);
    }
  }
}
