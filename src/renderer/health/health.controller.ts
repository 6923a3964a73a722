import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { CacheHealthIndicator } from './cache-health.indicator';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cache: CacheHealthIndicator,
  ) {}

  /** The process answers; never depends on Redis. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Ready to render; reports the cache (see `CacheHealthIndicator` for when it fails). */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.cache.check()]);
  }
}
