import { InvalidCacheValueError } from './errors/redis-cache.errors';
import type {
  CacheJsonLookup,
  CacheLookup,
  CacheMiss,
  NamespaceOperationOptions,
} from './redis-cache.interfaces';

/** What `getOrSet` calls on a miss: the value to cache, as stored bytes or a UTF-8 string. */
export type CacheLoader = () => Promise<string | Buffer> | string | Buffer;

/** The one miss value: nothing to allocate on the hot path. */
export const CACHE_MISS: CacheMiss = Object.freeze({ found: false, value: null });

/**
 * The cache of one app on one device: every key lives under `/{appId}/{deviceId}/`.
 *
 * Get one from `RedisCache.withContext(appId, deviceId)`, by injecting `ContextualCache` (the
 * current request's `:appId`/`:deviceId`, looked up on each call), or with `@CurrentCache()`.
 */
export abstract class ContextualCache {
  abstract readonly appId: string;
  abstract readonly deviceId: string;

  /**
   * The concrete cache this one stands for now: itself for a cache from `withContext`, the current
   * request's for the injected one. Keep it for code that may run in another request's async
   * context: an event listener another request fires, a timer a singleton shares.
   */
  pin(): ContextualCache {
    return this;
  }

  /** The Redis key used for `key`: `/{appId}/{deviceId}/{key}` with `/` in key replaced by `_`. */
  abstract keyFor(key: string): string;

  /** The bytes stored under `key`, or a miss (also when failing open on a backend error). */
  abstract get(key: string): Promise<CacheLookup>;

  /** Stores `value` as given (strings as UTF-8) for `ttlSeconds` (omitted or 0: the default TTL). */
  abstract set(key: string, value: string | Buffer, ttlSeconds?: number): Promise<void>;

  /** Removes `key`; resolves whether it existed. */
  abstract delete(key: string): Promise<boolean>;

  /**
   * The bytes cached under `key`; on a miss, calls `loader`, caches what it returns for `ttlSeconds`
   * and resolves it. Concurrent callers in this process share one loader call; with the module's
   * `stampede` options, instances share one load through a short Redis lock, and hot keys are
   * refreshed just before they expire. While failing open (the default), Redis trouble never fails
   * it (the loader runs instead); with `failOpen: false` the read rejects as `get` does;
   * a loader's error rejects every caller waiting on that load, and nothing is cached.
   */
  abstract getOrSet(key: string, loader: CacheLoader, ttlSeconds?: number): Promise<Buffer>;

  /**
   * Deletes every key of this app on this device; resolves how many. Rejects on a backend error.
   * For a namespace too large to wait for, see `RedisCache.jobs`.
   */
  abstract flushApp(options?: NamespaceOperationOptions): Promise<number>;

  /** Deletes every key of this device, across all apps; resolves how many. Rejects on a backend error. */
  abstract flushDevice(options?: NamespaceOperationOptions): Promise<number>;

  /** Counts the keys of this app on this device. Rejects on a backend error. */
  abstract stats(options?: NamespaceOperationOptions): Promise<number>;

  /** `get` and `JSON.parse`; rejects with `InvalidCacheValueError` if the stored bytes are not JSON. */
  async getJson<T = unknown>(key: string): Promise<CacheJsonLookup<T>> {
    const lookup = await this.get(key);
    if (!lookup.found) return CACHE_MISS;
    return { found: true, value: parseJson<T>(key, lookup.value) };
  }

  /** `JSON.stringify` and `set`; rejects with `InvalidCacheValueError` for what JSON cannot hold. */
  async setJson(key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    await this.set(key, toJson('setJson', key, value), ttlSeconds);
  }

  /** `getOrSet` for JSON values: `loader`'s result is stored with `JSON.stringify`. */
  async getOrSetJson<T>(
    key: string,
    loader: () => Promise<T> | T,
    ttlSeconds?: number,
  ): Promise<T> {
    const bytes = await this.getOrSet(
      key,
      async () => toJson('getOrSetJson', key, await loader()),
      ttlSeconds,
    );
    return parseJson<T>(key, bytes);
  }
}

function parseJson<T>(key: string, bytes: Buffer): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (error) {
    throw new InvalidCacheValueError(
      `The value cached under ${quoteKey(key)} is not valid JSON; it was not written by setJson.`,
      { cause: error },
    );
  }
}

/** The key as an error message shows it; a bad key must not break the message itself. */
const quoteKey = (key: unknown) =>
  typeof key === 'string' ? JSON.stringify(key) : `(a ${typeof key} key)`;

function toJson(operation: string, key: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidCacheValueError(
      `${operation}(${quoteKey(key)}): the value cannot be serialized as JSON (${(error as Error).message}).`,
      { cause: error },
    );
  }
  if (json === undefined) {
    throw new InvalidCacheValueError(
      `${operation}(${quoteKey(key)}): ${typeof value} has no JSON form; store null instead.`,
    );
  }
  return json;
}
