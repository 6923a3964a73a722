import type { Registry } from 'prom-client';
import { BatchedHistogram, registeredBatched } from './batched-metrics';
import type { ReadOutcome } from '../scoped-cache';

/** Request latency, from half a millisecond (a cached read) to seconds. */
export const REQUEST_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** Marks a request whose latency is recorded already, so it is recorded once. */
const RECORDED = Symbol('redisCacheRequestRecorded');

/** What Express (`route.path`) and Fastify (`routeOptions.url`) tell of the matched route. */
export type RoutedRequest = {
  route?: { path?: unknown };
  routeOptions?: { url?: unknown };
  [RECORDED]?: true;
};

/**
 * `{prefix}request_duration_seconds{route,cache}`: request latency by route pattern (never the URL,
 * so ids do not become labels) and by what the request's cache reads found (hit, miss, none).
 * Recorded by the module's response hook for every request that used the cache, and by
 * `CacheMetricsInterceptor` where you put it (other routes, or all of them).
 */
export class CacheRequestMetrics {
  // A batched histogram (plain arithmetic per request, prom-client values at scrape time).
  private readonly duration: BatchedHistogram<'route' | 'cache'>;
  // The histogram's slots per route pattern and outcome: no label lookup per request.
  private readonly slots = new Map<string, Record<ReadOutcome, number>>();

  constructor(registry: Registry, prefix: string) {
    const name = `${prefix}request_duration_seconds`;
    this.duration = registeredBatched(
      registry,
      name,
      BatchedHistogram,
      () =>
        new BatchedHistogram<'route' | 'cache'>(
          name,
          'Latency of requests that use the cache, from their first use of it to the end of the response, by route pattern and by what its reads found (hit, miss, none).',
          [],
          REQUEST_BUCKETS_SECONDS,
        ),
    );
  }

  /** Records a request that used the cache, unless `CacheMetricsInterceptor` has already. */
  record(request: RoutedRequest, outcome: ReadOutcome, seconds: number): void {
    if (!request[RECORDED]) this.observe(request, outcome, seconds);
  }

  /** Records a request from `CacheMetricsInterceptor` and marks it recorded. */
  recordHandled(request: RoutedRequest, outcome: ReadOutcome, seconds: number): void {
    if (request[RECORDED]) return;
    request[RECORDED] = true;
    this.observe(request, outcome, seconds);
  }

  private observe(request: RoutedRequest, outcome: ReadOutcome, seconds: number): void {
    this.duration.observe(this.slotsOf(routeOf(request))[outcome], seconds);
  }

  private slotsOf(route: string): Record<ReadOutcome, number> {
    let slots = this.slots.get(route);
    if (!slots) {
      const slotOf = (cache: ReadOutcome) => this.duration.slotAdding({ route, cache });
      slots = { hit: slotOf('hit'), miss: slotOf('miss'), none: slotOf('none') };
      this.slots.set(route, slots);
    }
    return slots;
  }
}

function routeOf(request: RoutedRequest): string {
  const route = request.routeOptions?.url ?? request.route?.path;
  return typeof route === 'string' ? route : 'unmatched';
}
