import { Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { ReadOutcome } from '../scoped-cache';
import { registered } from './prometheus-cache-metrics';

/** HTTP handler latency, from half a millisecond (a cached read) to seconds. */
export const REQUEST_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** `{prefix}request_duration_seconds{route,cache}`: route pattern, and what its cache reads found. */
export class CacheRequestMetrics {
  private readonly duration: Histogram;

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

  record(route: string, cache: ReadOutcome, seconds: number): void {
    this.duration.observe({ route, cache }, seconds);
  }
}
