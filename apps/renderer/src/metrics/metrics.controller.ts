import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { collectDefaultMetrics } from 'prom-client';
import type { Registry } from 'prom-client';
import { RESOLVED_REDIS_CACHE_OPTIONS } from 'nestjs-redis-app-cache';
import type { ResolvedRedisCacheOptions } from 'nestjs-redis-app-cache';

const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

interface HeaderSetter {
  header(name: string, value: string): unknown;
}

/** Prometheus text format of the cache's registry, with Node's process metrics. */
@Controller()
export class MetricsController implements OnModuleInit {
  private readonly registry: Registry;

  constructor(@Inject(RESOLVED_REDIS_CACHE_OPTIONS) options: ResolvedRedisCacheOptions) {
    this.registry = options.metrics.registry;
  }

  onModuleInit(): void {
    // Once per registry: several apps in one process (tests) share the global one.
    if (this.registry.getSingleMetric('process_cpu_user_seconds_total')) return;
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which promtool flags; the same counts stay available per type
    // in nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
    for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(name);
  }

  @Get('metrics')
  async metrics(@Res({ passthrough: true }) response: HeaderSetter): Promise<string> {
    response.header('Content-Type', this.registry.contentType);
    return this.registry.metrics();
  }
}
