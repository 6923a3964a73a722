import { Inject, Injectable } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { finalize } from 'rxjs';
import { REDIS_CACHE_REQUEST_METRICS } from '../redis-cache.constants';
import type { CacheRequestMetrics, RoutedRequest } from './cache-request-metrics';

/**
 * Records `request_duration_seconds{route,cache}` for the handlers it wraps (per controller with
 * `@UseInterceptors(CacheMetricsInterceptor)`, or globally). Routes that use the cache are recorded
 * by the module's route binding already, more cheaply (a Nest interceptor costs more per request
 * than a cached read: see the README); the interceptor adds the routes that do not, and never
 * records a request twice.
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
    return next.handle().pipe(finalize(() => metrics.record(request, started)));
  }
}
