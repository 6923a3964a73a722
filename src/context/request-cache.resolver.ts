import { BadRequestException } from '@nestjs/common';
import type { ContextualCache } from '../contextual-cache';
import { InvalidCacheContextError, MissingCacheContextError } from '../errors/redis-cache.errors';
import type { CacheRequestMetrics } from '../metrics/cache-request-metrics';
import type { RedisCache } from '../redis-cache';
import type { ResolvedRedisCacheOptions } from '../redis-cache.options';
import { RequestBoundCache } from './request-bound-cache';
import { currentRequest } from './request-context';
import { keepResolvedCache, resolvedCacheOf } from './request-slot';
import type { CacheRequest, RouteParams } from './request-slot';

/**
 * Turns a request's route params into this module instance's `ContextualCache`: the one rule
 * every way of getting the cache uses. Each request resolves once per module instance. The module
 * builds it (a factory provider), so that this file needs `RedisCache` only as a type.
 */
export class RequestCacheResolver {
  /** What `ContextualCache` injects as: the current request's cache, looked up on each call. */
  readonly currentRequestCache: ContextualCache = new RequestBoundCache(() =>
    this.resolve(currentRequest()),
  );
  private readonly appParam: string;
  private readonly deviceParam: string;

  constructor(
    private readonly redisCache: RedisCache,
    options: ResolvedRedisCacheOptions,
    private readonly metrics: CacheRequestMetrics | null,
  ) {
    this.appParam = options.routeParams.app;
    this.deviceParam = options.routeParams.device;
  }

  /**
   * Throws `MissingCacheContextError` outside a request or naming a param the route lacks, and
   * `BadRequestException` (HTTP 400, body naming the field) for an invalid id.
   */
  resolve(request: CacheRequest | undefined): ContextualCache {
    if (!request) throw MissingCacheContextError.outsideRequest();
    const resolved = resolvedCacheOf(request);
    const params = request.params;
    if (resolved?.owner === this && resolved.params === params) return resolved.cache;
    const cache = this.resolveParams(params);
    // The first module instance a request uses keeps the slot; the metrics read it.
    if (!resolved || resolved.owner === this) {
      const started = this.metrics ? performance.now() : 0;
      keepResolvedCache(request, { owner: this, metrics: this.metrics, params, cache, started });
    }
    return cache;
  }

  private resolveParams(params: RouteParams): ContextualCache {
    const appId = params?.[this.appParam];
    if (appId === undefined) {
      throw MissingCacheContextError.missingRouteParam(this.appParam, 'appId');
    }
    const deviceId = params?.[this.deviceParam];
    if (deviceId === undefined) {
      throw MissingCacheContextError.missingRouteParam(this.deviceParam, 'deviceId');
    }
    try {
      return this.redisCache.withContext(appId, deviceId);
    } catch (error) {
      throw error instanceof InvalidCacheContextError ? invalidContextBadRequest(error) : error;
    }
  }
}

/** The HTTP 400 for an invalid app or device id, its body naming the field. */
export function invalidContextBadRequest(error: InvalidCacheContextError): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    message: error.message,
    field: error.field,
  });
}
