import { Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { cacheOfRequest } from '../context/request-cache.resolver';
import type { CacheRequest } from '../context/request-cache.resolver';
import { ScopedCache } from '../scoped-cache';
import type { ReadOutcome } from '../scoped-cache';
import { registered } from './prometheus-cache-metrics';

/** HTTP handler latency, from half a millisecond (a cached read) to seconds. */
export const REQUEST_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** Marks a request whose latency is recorded already, so it is recorded once. */
const RECORDED = Symbol('redisCacheRequestRecorded');

/** What Express (`route.path`) and Fastify (`routeOptions.url`) tell of the matched route. */
export type RoutedRequest = NonNullable<CacheRequest> & {
  route?: { path?: unknown };
  routeOptions?: { url?: unknown };
  [RECORDED]?: true;
};

type Timer = { observe(seconds: number): void };

/**
 * `{prefix}request_duration_seconds{route,cache}`: handler latency by route pattern (never the URL,
 * so ids do not become labels) and by what the request's cache reads found (hit, miss, none).
 * Recorded by the module's route binding for every route that uses the cache, at almost no cost,
 * and by `CacheMetricsInterceptor` where you put it (other routes, or all of them).
 */
export class CacheRequestMetrics {
  private readonly duration: Histogram;
  // Bound children per route pattern and outcome: no label hashing per request.
  private readonly timers = new Map<string, Record<ReadOutcome, Timer>>();

  constructor(registry: Registry, prefix: string) {
    this.duration = registered(
      registry,
      `${prefix}request_duration_seconds`,
      Histogram,
      (name) =>
        new Histogram({
          name,
          help: 'Handler latency by route pattern and by what the request’s cache reads found (hit, miss, none).',
          labelNames: ['route', 'cache'],
          buckets: REQUEST_BUCKETS_SECONDS,
          registers: [registry],
        }),
    );
  }

  /** Records the request once, `started` being a `performance.now()` reading. */
  record(request: RoutedRequest, started: number): void {
    if (request[RECORDED]) return;
    request[RECORDED] = true;
    const cache = cacheOfRequest(request);
    const outcome = cache instanceof ScopedCache ? cache.readOutcome : 'none';
    this.timersOf(routeOf(request))[outcome].observe((performance.now() - started) / 1000);
  }

  private timersOf(route: string): Record<ReadOutcome, Timer> {
    let timers = this.timers.get(route);
    if (!timers) {
      timers = {
        hit: this.duration.labels(route, 'hit'),
        miss: this.duration.labels(route, 'miss'),
        none: this.duration.labels(route, 'none'),
      };
      this.timers.set(route, timers);
    }
    return timers;
  }
}

function routeOf(request: RoutedRequest): string {
  const route = request.routeOptions?.url ?? request.route?.path;
  return typeof route === 'string' ? route : 'unmatched';
}
