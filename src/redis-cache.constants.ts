/** The module's options after validation and defaults (`ResolvedRedisCacheOptions`). */
export const RESOLVED_REDIS_CACHE_OPTIONS = Symbol('RESOLVED_REDIS_CACHE_OPTIONS');

/** The `CacheStore` behind the module's `RedisCache` (internal). */
export const REDIS_CACHE_STORE = Symbol('REDIS_CACHE_STORE');

/** The shared ioredis client, or `null` on the memory store. Inject it for health checks or metrics. */
export const REDIS_CACHE_CLIENT = Symbol('REDIS_CACHE_CLIENT');

/** How this app injects `ContextualCache` (`CacheInjectionSettings`; internal). */
export const CACHE_INJECTION_SETTINGS = Symbol('CACHE_INJECTION_SETTINGS');

/** The background key counter (`KeyCountRefresher`), or null when metrics or counts are off (internal). */
export const REDIS_CACHE_KEY_COUNTS = Symbol('REDIS_CACHE_KEY_COUNTS');

/** The request metrics `CacheMetricsInterceptor` records into, or null when metrics are off (internal). */
export const REDIS_CACHE_REQUEST_METRICS = Symbol('REDIS_CACHE_REQUEST_METRICS');

/** Stops reporting this module's store in `backend_up` (internal). */
export const REDIS_CACHE_BACKEND_UP = Symbol('REDIS_CACHE_BACKEND_UP');
