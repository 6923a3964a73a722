import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { RedisCacheHealthIndicator } from 'nestjs-redis-app-cache/terminus';
import { RENDERER_CONFIG } from '../config/renderer-config.provider';
import type { RendererConfig } from '../config/renderer.config';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cache: RedisCacheHealthIndicator,
    @Inject(RENDERER_CONFIG) private readonly config: RendererConfig,
  ) {}

  /** The process answers; never depends on Redis. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /**
   * Ready to render. Redis down while the cache fails open is still ready (renders go on, only
   * slower); with `CACHE_FAIL_OPEN=false` it is not (HTTP 503).
   */
  @Get('ready')
  @HealthCheck()
  ready() {
    const timeoutMs = this.config.readinessTimeoutMs;
    return this.health.check([() => this.cache.isHealthy('cache', { timeoutMs })]);
  }
}
