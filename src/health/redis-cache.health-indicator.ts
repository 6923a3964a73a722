import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import { RESOLVED_REDIS_CACHE_OPTIONS } from '../redis-cache.constants';
import { RedisCache } from '../redis-cache';
import type { ResolvedRedisCacheOptions } from '../redis-cache.options';

export interface RedisCacheHealthCheckOptions {
  /** How long to wait for PING before reporting Redis down. Default 1000 ms. */
  timeoutMs?: number;
}

/**
 * The cache's health for `@nestjs/terminus`: PING latency when the store answers. Redis down while
 * the cache fails open is still `up`, with `redis: "down"`, `mode: "fail-open"` and the error:
 * requests are served, only without the cache, and reporting `down` would take every instance out
 * of the load balancer at once. With `failOpen: false` requests need Redis, and it is `down`.
 *
 * Provide it in a module that imports `TerminusModule` (and sees `RedisCacheModule`).
 */
@Injectable()
export class RedisCacheHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly cache: RedisCache,
    @Inject(RESOLVED_REDIS_CACHE_OPTIONS) private readonly options: ResolvedRedisCacheOptions,
  ) {}

  async isHealthy(
    key = 'cache',
    { timeoutMs = 1_000 }: RedisCacheHealthCheckOptions = {},
  ): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const store = this.cache.storeKind;
    const target = this.cache.storeDescription;
    try {
      const latencyMs = await withTimeout(this.cache.ping(), timeoutMs);
      const redis = store === 'redis' ? { redis: 'up' } : {};
      return indicator.up({
        store,
        target,
        ...redis,
        latencyMs: Math.round(latencyMs * 1000) / 1000,
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (this.options.failOpen) {
        return indicator.up({ store, target, redis: 'down', mode: 'fail-open', error: reason });
      }
      return indicator.down({ store, target, redis: 'down', error: reason });
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer to PING within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
