export {
  CacheUnavailableError,
  CacheValueTooLargeError,
  InvalidCacheContextError,
  InvalidCacheKeyError,
  InvalidCacheValueError,
  InvalidTtlError,
  MissingCacheContextError,
  RedisCacheConfigError,
  RedisCacheError,
} from './redis-cache.errors';
export type { CacheContextField, CacheFailureKind } from './redis-cache.errors';
