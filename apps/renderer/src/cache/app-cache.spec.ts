import {
  CACHE_MISS,
  CacheUnavailableError,
  ContextualCache,
  RedisCache,
} from 'nestjs-redis-app-cache';
import type { CacheLookup } from 'nestjs-redis-app-cache';
import { APP_CACHE_DEFAULT_TTL_SECONDS, AppCache, AppCacheError } from './app-cache';
import type { CacheWarnings } from './app-cache';

function captureLogger(): CacheWarnings & { warnings: string[]; topics: string[] } {
  const warnings: string[] = [];
  const topics: string[] = [];
  return {
    warnings,
    topics,
    warn: (topic, message) => {
      topics.push(topic);
      warnings.push(message);
    },
  };
}

/** A cache whose backend fails: what `failOpen: false` gives when Redis is down. */
class FailingCache extends ContextualCache {
  readonly appId = 'clock';
  readonly deviceId = 'dev1';
  private readonly failure = new CacheUnavailableError('get', 'connection', 'ECONNREFUSED');
  keyFor = (key: string) => `/clock/dev1/${key}`;
  get = (): Promise<CacheLookup> => Promise.reject(this.failure);
  set = (): Promise<void> => Promise.reject(this.failure);
  delete = () => Promise.resolve(false);
  getOrSet = (): Promise<Buffer> => Promise.reject(this.failure);
  flushApp = () => Promise.resolve(0);
  flushDevice = () => Promise.resolve(0);
  stats = () => Promise.resolve(0);
}

describe('AppCache (Pixlet semantics)', () => {
  const redisCache = RedisCache.inMemory();
  const contextual = redisCache.withContext('clock', 'dev1');

  afterAll(() => redisCache.close());

  it('stores strings under app: and reads them back; a miss is null', async () => {
    const cache = new AppCache(contextual, captureLogger());
    await cache.set('weather', 'sunny');
    await expect(cache.get('weather')).resolves.toBe('sunny');
    await expect(cache.get('missing')).resolves.toBeNull();
    const raw = await contextual.get('app:weather');
    expect(raw.found && raw.value.toString()).toBe('sunny');
    await expect(contextual.get('weather')).resolves.toEqual(CACHE_MISS);
  });

  it('uses 60 seconds for a TTL of 0 or none, and the given whole seconds otherwise', async () => {
    const ttls: (number | undefined)[] = [];
    const recording = Object.create(contextual) as ContextualCache;
    recording.set = (key, value, ttl) => {
      ttls.push(ttl);
      return contextual.set(key, value, ttl);
    };
    const cache = new AppCache(recording, captureLogger());
    await cache.set('a', '1');
    await cache.set('b', '2', 0);
    await cache.set('c', '3', 300);
    expect(ttls).toEqual([APP_CACHE_DEFAULT_TTL_SECONDS, 60, 300]);
  });

  it.each([
    [-1, 'cache.set: ttl_seconds cannot be negative'],
    [1.5, 'cache.set: ttl_seconds must be a whole number, got 1.5'],
    [Number.NaN, 'cache.set: ttl_seconds must be a number, got NaN'],
  ])('raises to the app for a TTL of %p', async (ttl, message) => {
    const cache = new AppCache(contextual, captureLogger());
    await expect(cache.set('k', 'v', ttl)).rejects.toThrow(new AppCacheError(message));
    await expect(cache.get('k')).resolves.toBeNull();
  });

  it('raises for keys and values that are not strings, and for an empty key', async () => {
    const cache = new AppCache(contextual, captureLogger());
    await expect(cache.set('k', 42 as unknown as string)).rejects.toThrow(
      'cache.set: value must be a string, got number',
    );
    await expect(cache.get('')).rejects.toThrow(
      'cache.get: key must be a non-empty string, got an empty string',
    );
    await expect(cache.get(7 as unknown as string)).rejects.toThrow(AppCacheError);
  });

  it('treats a backend error as a miss on get and logs it, without the value', async () => {
    const logger = captureLogger();
    const cache = new AppCache(new FailingCache(), logger);
    await expect(cache.get('weather')).resolves.toBeNull();
    await expect(cache.set('weather', 'secret-value')).resolves.toBeUndefined();
    expect(logger.topics).toEqual(['app-cache.get', 'app-cache.set']);
    expect(logger.warnings[0]).toMatch(/cache\.get\("weather"\) failed, treated as a miss/);
    expect(logger.warnings[1]).toMatch(/cache\.set\("weather"\) failed, not stored/);
    expect(logger.warnings.join('\n')).not.toContain('secret-value');
  });
});
