import { InvalidCacheValueError } from './errors/redis-cache.errors';
import type { CacheJsonLookup, CacheLookup, CacheMiss } from './redis-cache.interfaces';

/** The one miss value: nothing to allocate on the hot path. */
export const CACHE_MISS: CacheMiss = Object.freeze({ found: false, value: null });

/**
 * The cache of one app on one device: every key lives under `/{appId}/{deviceId}/`.
 *
 * Get one from `RedisCache.withContext(appId, deviceId)`, by injecting `ContextualCache` into a
 * controller (the current request's `:appId`/`:deviceId`), or with `@CurrentCache()`.
 */
export abstract class ContextualCache {
  abstract readonly appId: string;
  abstract readonly deviceId: string;

  /** The Redis key used for `key`: `/{appId}/{deviceId}/{key}` with `/` in key replaced by `_`. */
  abstract keyFor(key: string): string;

  /** The bytes stored under `key`, or a miss (also when failing open on a backend error). */
  abstract get(key: string): Promise<CacheLookup>;

  /** Stores `value` as given (strings as UTF-8) for `ttlSeconds` (omitted or 0: the default TTL). */
  abstract set(key: string, value: string | Buffer, ttlSeconds?: number): Promise<void>;

  /** Removes `key`; resolves whether it existed. */
  abstract delete(key: string): Promise<boolean>;

  /** Deletes every key of this app on this device; resolves how many. Rejects on a backend error. */
  abstract flushApp(): Promise<number>;

  /** Deletes every key of this device, across all apps; resolves how many. Rejects on a backend error. */
  abstract flushDevice(): Promise<number>;

  /** Counts the keys of this app on this device. Rejects on a backend error. */
  abstract stats(): Promise<number>;

  /** `get` and `JSON.parse`; rejects with `InvalidCacheValueError` if the stored bytes are not JSON. */
  async getJson<T = unknown>(key: string): Promise<CacheJsonLookup<T>> {
    const lookup = await this.get(key);
    if (!lookup.found) return CACHE_MISS;
    try {
      return { found: true, value: JSON.parse(lookup.value.toString('utf8')) as T };
    } catch (error) {
      throw new InvalidCacheValueError(
        `The value cached under ${JSON.stringify(key)} is not valid JSON; it was not written by setJson.`,
        { cause: error },
      );
    }
  }

  /** `JSON.stringify` and `set`; rejects with `InvalidCacheValueError` for what JSON cannot hold. */
  async setJson(key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch (error) {
      throw new InvalidCacheValueError(
        `setJson(${JSON.stringify(key)}): the value cannot be serialized as JSON (${(error as Error).message}).`,
        { cause: error },
      );
    }
    if (json === undefined) {
      throw new InvalidCacheValueError(
        `setJson(${JSON.stringify(key)}): ${typeof value} has no JSON form; store null instead.`,
      );
    }
    await this.set(key, json, ttlSeconds);
  }
}
