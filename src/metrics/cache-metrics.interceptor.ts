import { Inject, Injectable } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { finalize } from 'rxjs';
import { readOutcomeOf } from '../context/request-slot';
import type { CacheRequest } from '../context/request-slot';
import { REDIS_CACHE_REQUEST_METRICS } from '../redis-cache.constants';
import type { CacheRequestMetrics } from './cache-request-metrics';

/**
 * Records `request_duration_seconds{route,cache}` (handler latency here) for the handlers it wraps
 * (per controller with `@UseInterceptors(CacheMetricsInterceptor)`, or globally). Requests that use
 * the cache are recorded by the module's response hook already, more cheaply (see the README); the
 * interceptor adds the routes that do not, and a request is never recorded twice.
 */
@Injectable()
export class CacheMetricsInterceptor implements NestInterceptor {
  constructor(
    @Inject(REDIS_CACHE_REQUEST_METRICS) private readonly metrics: CacheRequestMetrics | null,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const metrics = this.metrics;
    if (!metrics || context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<CacheRequest>();
    const started = performance.now();
    return next
      .handle()
      .pipe(
        finalize(() =>
          metrics.recordHandled(
            request,
            readOutcomeOf(request),
            (performance.now() - started) / 1000,
          ),
        ),
      );
  }
}
