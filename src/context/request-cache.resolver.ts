import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import type { ContextualCache } from '../contextual-cache';
import { missingRouteParamMessage, outsideRequestContextMessage } from '../errors/messages';
import { InvalidCacheContextError, MissingCacheContextError } from '../errors/redis-cache.errors';
import type { CacheRequestMetrics, RoutedRequest } from '../metrics/cache-request-metrics';
import { RedisCache } from '../redis-cache';
import {
  REDIS_CACHE_REQUEST_METRICS,
  RESOLVED_REDIS_CACHE_OPTIONS,
} from '../redis-cache.constants';
import type { ResolvedRedisCacheOptions } from '../redis-cache.options';
import type { ReadOutcome, ReadOutcomeSource } from '../scoped-cache';
import { RequestBoundCache } from './request-bound-cache';
import { currentRequest } from './request-context';

export type RouteParams = Record<string, string | undefined> | undefined;

const RESOLVED = Symbol('redisCacheOfRequest');

/**
 * The cache a request resolved first, from which params (Express replaces them per layer), and
 * when: its request metrics run from then to the end of its response.
 */
interface Resolved {
  readonly resolver: RequestCacheResolver;
  readonly params: RouteParams;
  readonly cache: ContextualCache & Partial<ReadOutcomeSource>;
  readonly started: number;
}

/** The request as the resolver sees it, on Express and Fastify alike. */
export type CacheRequest = RoutedRequest & {
  params?: RouteParams;
  /** Express's response; Fastify's are recorded by an onResponse hook. */
  res?: { on(event: 'finish', listener: (this: { req: CacheRequest }) => void): unknown };
  [RESOLVED]?: Resolved;
};

/**
 * Turns a request's route params into this module instance's `ContextualCache`: the one rule
 * every way of getting the cache uses. Each request resolves once per module instance.
 */
@Injectable()
export class RequestCacheResolver {
  /** What `ContextualCache` injects as: the current request's cache, looked up on each call. */
  readonly currentRequestCache: ContextualCache = new RequestBoundCache(() =>
    this.resolve(currentRequest()),
  );
  private readonly appParam: string;
  private readonly deviceParam: string;

  constructor(
    private readonly redisCache: RedisCache,
    @Inject(RESOLVED_REDIS_CACHE_OPTIONS) options: ResolvedRedisCacheOptions,
    @Inject(REDIS_CACHE_REQUEST_METRICS) readonly metrics: CacheRequestMetrics | null,
  ) {
    this.appParam = options.routeParams.app;
    this.deviceParam = options.routeParams.device;
  }

  /**
   * Throws `MissingCacheContextError` outside a request or naming a param the route lacks, and
   * `BadRequestException` (HTTP 400, body naming the field) for an invalid id.
   */
  resolve(request: CacheRequest | undefined): ContextualCache {
    if (!request) throw new MissingCacheContextError(outsideRequestContextMessage());
    const resolved = request[RESOLVED];
    const params = request.params;
    if (resolved?.resolver === this && resolved.params === params) return resolved.cache;
    const cache = this.resolveParams(params);
    // The first module instance a request uses keeps the slot; the metrics read it.
    if (!resolved || resolved.resolver === this) {
      const started = this.metrics ? performance.now() : 0;
      request[RESOLVED] = { resolver: this, params, cache, started };
      if (this.metrics && !resolved) request.res?.on('finish', recordExpressResponse);
    }
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

/** What the request's cache reads found so far: `none` when it resolved none or read nothing. */
export function readOutcomeOf(request: CacheRequest): ReadOutcome {
  return request[RESOLVED]?.cache.readOutcome ?? 'none';
}

/**
 * Records a request that used the cache, once its response has ended, in the metrics of the module
 * instance whose cache it used first: from that first use to the end of the response.
 */
export function recordRequest(request: CacheRequest): void {
  const resolved = request[RESOLVED];
  const metrics = resolved?.resolver.metrics;
  if (!metrics) return;
  const seconds = (performance.now() - resolved.started) / 1000;
  metrics.record(request, resolved.cache.readOutcome ?? 'none', seconds);
}

function recordExpressResponse(this: { req: CacheRequest }): void {
  recordRequest(this.req);
}
