import { Inject, Injectable } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { finalize } from 'rxjs';
import { cacheOfRequest } from '../context/request-cache.resolver';
import type { CacheRequest } from '../context/request-cache.resolver';
import { REDIS_CACHE_REQUEST_METRICS } from '../redis-cache.constants';
import { ScopedCache } from '../scoped-cache';
import type { CacheRequestMetrics } from './cache-request-metrics';

/** What Express (`route.path`) and Fastify (`routeOptions.url`) tell of the matched route. */
type RoutedRequest = NonNullable<CacheRequest> & {
  route?: { path?: unknown };
  routeOptions?: { url?: unknown };
};

/**
 * Records `request_duration_seconds{route,cache}` for the handlers it wraps (per controller with
 * `@UseInterceptors(CacheMetricsInterceptor)`, or globally): the route pattern, never the URL, so
 * ids do not become labels; and whether the request's cache reads hit, missed, or never happened.
 * A Nest interceptor costs more per request than the cache itself (see the README).
 */
@Injectable()
export class CacheMetricsInterceptor implements NestInterceptor {
  constructor(
    @Inject(REDIS_CACHE_REQUEST_METRICS) private readonly metrics: CacheRequestMetrics | null,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const metrics = this.metrics;
    if (!metrics || context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<RoutedRequest>();
    const started = performance.now();
    return next.handle().pipe(
      finalize(() => {
        const cache = cacheOfRequest(request);
        const outcome = cache instanceof ScopedCache ? cache.readOutcome : 'none';
        metrics.record(routeOf(request), outcome, (performance.now() - started) / 1000);
      }),
    );
  }
}

function routeOf(request: RoutedRequest): string {
  const route = request.routeOptions?.url ?? request.route?.path;
  return typeof route === 'string' ? route : 'unmatched';
}
