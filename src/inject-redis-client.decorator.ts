import { Inject } from '@nestjs/common';
import { REDIS_CACHE_CLIENT } from './redis-cache.constants';

/**
 * Injects the module's shared ioredis client (`Redis` or `Cluster`), or `null` with the memory
 * store. For commands of your own on the same connection: keep your keys out of the cache's
 * `/{appId}/{deviceId}/…` form, or flushes and key counts will include them.
 */
export const InjectRedisClient = (): ParameterDecorator & PropertyDecorator =>
  Inject(REDIS_CACHE_CLIENT);
