import type { ContextualCache } from 'nestjs-redis-app-cache';

/** Pixlet's default and what a TTL of 0 means. */
export const APP_CACHE_DEFAULT_TTL_SECONDS = 60;

/** Where cache failures are reported: rate-limited per topic (a `RateLimitedLogger`). */
export interface CacheWarnings {
  warn(topic: 'app-cache.get' | 'app-cache.set', message: string): void;
}

/** What an app did wrong with the cache (Pixlet raises it to the app). */
export class AppCacheError extends Error {
  override readonly name = 'AppCacheError';
}

/**
 * The cache as apps see it, with Pixlet's semantics: string keys and values, `get` gives `null` on
 * a miss and also on a backend error (logged), `set` takes a TTL in seconds (0 or none: 60), raises
 * for a negative or fractional TTL, and logs and ignores a backend error, so the render goes on.
 *
 * App keys live under `app:` inside the request's app and device, apart from the service's own
 * entries (rendered images).
 */
export class AppCache {
  constructor(
    private readonly cache: ContextualCache,
    private readonly warnings: CacheWarnings,
  ) {}

  async get(key: string): Promise<string | null> {
    const appKey = this.appKey('get', key);
    try {
      const hit = await this.cache.get(appKey);
      return hit.found ? hit.value.toString('utf8') : null;
    } catch (error) {
      this.warnings.warn(
        'app-cache.get',
        `cache.get(${JSON.stringify(key)}) failed, treated as a miss: ${describe(error)}`,
      );
      return null;
    }
  }

  async set(
    key: string,
    value: string,
    ttlSeconds: number = APP_CACHE_DEFAULT_TTL_SECONDS,
  ): Promise<void> {
    const appKey = this.appKey('set', key);
    if (typeof value !== 'string') {
      throw new AppCacheError(`cache.set: value must be a string, got ${typeof value}`);
    }
    const ttl = appTtl(ttlSeconds);
    try {
      await this.cache.set(appKey, value, ttl);
    } catch (error) {
      this.warnings.warn(
        'app-cache.set',
        `cache.set(${JSON.stringify(key)}) failed, not stored: ${describe(error)}`,
      );
    }
  }

  private appKey(operation: string, key: unknown): string {
    if (typeof key !== 'string' || key.length === 0) {
      throw new AppCacheError(
        `cache.${operation}: key must be a non-empty string, got ${describeKey(key)}`,
      );
    }
    return `app:${key}`;
  }
}

function appTtl(ttlSeconds: unknown): number {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds)) {
    throw new AppCacheError(`cache.set: ttl_seconds must be a number, got ${String(ttlSeconds)}`);
  }
  if (ttlSeconds < 0) throw new AppCacheError('cache.set: ttl_seconds cannot be negative');
  if (!Number.isInteger(ttlSeconds)) {
    throw new AppCacheError(`cache.set: ttl_seconds must be a whole number, got ${ttlSeconds}`);
  }
  return ttlSeconds === 0 ? APP_CACHE_DEFAULT_TTL_SECONDS : ttlSeconds;
}

function describeKey(key: unknown): string {
  return typeof key === 'string' ? 'an empty string' : typeof key;
}

// Never the value: only the error's own message.
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
