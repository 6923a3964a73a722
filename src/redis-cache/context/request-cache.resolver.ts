import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import type { ContextualCache } from '../contextual-cache';
import { missingRouteParamMessage } from '../errors/messages';
import { InvalidCacheContextError, MissingCacheContextError } from '../errors/redis-cache.errors';
import { RedisCache } from '../redis-cache';
import { RESOLVED_REDIS_CACHE_OPTIONS } from '../redis-cache.constants';
import type { ResolvedRedisCacheOptions } from '../redis-cache.options';
import type { CacheContextSlot } from './cache-context.storage';

export type RouteParams = Record<string, string | undefined> | undefined;

/** Where each request keeps the cache resolved for it (read by `CacheMetricsInterceptor`). */
export const REQUEST_CACHE = Symbol('redisCacheOfRequest');

/** The request as the resolver sees it, on Express and Fastify alike. */
export type CacheRequest = { params?: RouteParams; [REQUEST_CACHE]?: ContextualCache } | undefined;

/** The cache resolved for a request so far, if any. */
export function cacheOfRequest(request: CacheRequest): ContextualCache | undefined {
  return request?.[REQUEST_CACHE];
}

/** Turns a request's route params into its `ContextualCache`: the one rule every injection path uses. */
@Injectable()
export class RequestCacheResolver {
  private readonly appParam: string;
  private readonly deviceParam: string;

  constructor(
    private readonly redisCache: RedisCache,
    @Inject(RESOLVED_REDIS_CACHE_OPTIONS) options: ResolvedRedisCacheOptions,
  ) {
    this.appParam = options.routeParams.app;
    this.deviceParam = options.routeParams.device;
  }

  /**
   * Throws `MissingCacheContextError` naming a param the route lacks, and `BadRequestException`
   * (HTTP 400, body naming the field) for an invalid id.
   */
  /** Like `resolve`, but a missing param becomes the slot's error, thrown only if the cache is used. */
  slotFor(request: CacheRequest): CacheContextSlot {
    try {
      return this.resolve(request);
    } catch (error) {
      if (error instanceof MissingCacheContextError) return error;
      throw error;
    }
  }

  resolve(request: CacheRequest): ContextualCache {
    const cache = this.resolveParams(request?.params);
    if (request) request[REQUEST_CACHE] = cache;
    return cache;
  }

  private resolveParams(params: RouteParams): ContextualCache {
    const appId = params?.[this.appParam];
    if (appId === undefined) {
      throw new MissingCacheContextError(missingRouteParamMessage(this.appParam, 'appId'));
    }
    const deviceId = params?.[this.deviceParam];
    if (deviceId === undefined) {
      throw new MissingCacheContextError(missingRouteParamMessage(this.deviceParam, 'deviceId'));
    }
    try {
      return this.redisCache.withContext(appId, deviceId);
    } catch (error) {
      if (error instanceof InvalidCacheContextError) {
        throw new BadRequestException({
          statusCode: 400,
          error: 'Bad Request',
          message: error.message,
          field: error.field,
        });
      }
      throw error;
    }
  }
}
