import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { collectDefaultMetrics } from 'prom-client';
import type { Registry } from 'prom-client';
import { RESOLVED_REDIS_CACHE_OPTIONS } from '../../redis-cache';
import type { ResolvedRedisCacheOptions } from '../../redis-cache';

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
    if (!this.registry.getSingleMetric('process_cpu_user_seconds_total')) {
      collectDefaultMetrics({ register: this.registry });
    }
  }

  @Get('metrics')
  async metrics(@Res({ passthrough: true }) response: HeaderSetter): Promise<string> {
    response.header('Content-Type', this.registry.contentType);
    return this.registry.metrics();
  }
}
