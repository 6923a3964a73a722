import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import { RESOLVED_REDIS_CACHE_OPTIONS, RedisCache } from '../../redis-cache';
import type { ResolvedRedisCacheOptions } from '../../redis-cache';
import { RENDERER_CONFIG } from '../config/renderer-config.provider';
import type { RendererConfig } from '../config/renderer.config';

/**
 * Readiness of the cache. Redis down while the cache fails open is `up` with `redis: "down"` and
 * `mode: "fail-open"`: the service still renders, only slower, so taking every instance out of the
 * load balancer would turn a cache outage into a full one. With `CACHE_FAIL_OPEN=false` renders
 * need Redis, and then Redis down is `down` (HTTP 503).
 */
@Injectable()
export class CacheHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly redisCache: RedisCache,
    @Inject(RESOLVED_REDIS_CACHE_OPTIONS) private readonly options: ResolvedRedisCacheOptions,
    @Inject(RENDERER_CONFIG) private readonly config: RendererConfig,
  ) {}

  async check(key = 'cache'): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const store = this.redisCache.storeKind;
    const target = this.redisCache.storeDescription;
    try {
      const latencyMs = await withTimeout(this.redisCache.ping(), this.config.readinessTimeoutMs);
      const redis = store === 'redis' ? { redis: 'up' } : {};
      return indicator.up({ store, target, ...redis, latencyMs: round(latencyMs) });
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

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
