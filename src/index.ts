export { RedisCacheModule } from './redis-cache.module';
export type { RedisCacheModuleExtras } from './redis-cache.module-definition';
export { REDIS_CACHE_MODULE_OPTIONS } from './redis-cache.module-definition';
export { RedisCache } from './redis-cache';
export type { RedisCacheSettings } from './redis-cache';
export { ContextualCache, CACHE_MISS } from './contextual-cache';
export type { CacheLoader } from './contextual-cache';
export { CacheJobs, CACHE_JOB_OPERATIONS } from './jobs/cache-jobs';
export type {
  CacheJobOperation,
  CacheJobRunOptions,
  CacheJobState,
  CacheJobStatus,
} from './jobs/cache-jobs';
export { CurrentCache } from './context/current-cache.decorator';
export { invalidContextBadRequest } from './context/request-cache.resolver';
export { CacheMetricsInterceptor } from './metrics/cache-metrics.interceptor';
export { REDIS_CACHE_CLIENT, RESOLVED_REDIS_CACHE_OPTIONS } from './redis-cache.constants';
export { InjectRedisClient } from './inject-redis-client.decorator';
export { redisCacheOptionsFromEnv } from './redis-cache.env';
export { REDIS_CACHE_DEFAULTS, resolveRedisCacheOptions } from './redis-cache.options';
export type { ResolvedRedisCacheOptions } from './redis-cache.options';
export { MAX_CONTEXT_ID_BYTES } from './keys/cache-key';
export { escapeGlob } from './keys/cache-namespace';
export type { CacheErrorCounts } from './cache-failure.handler';
export { RateLimitedLogger } from './logging/rate-limited-logger';
export * from './errors';
export type * from './redis-cache.interfaces';
export type { CacheObserver, ObservedOperation, OperationResult } from './metrics/cache-observer';
