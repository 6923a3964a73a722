import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { ContextualCache, CurrentCache, RedisCacheModule } from 'nestjs-redis-app-cache';
import { RedisCacheHealthIndicator } from 'nestjs-redis-app-cache/terminus';

/** What a request saw in its device's cache; a miss stores a value for the next request. */
async function readThrough(cache: ContextualCache, via: string) {
  const hit = await cache.get('greeting');
  if (hit.found) return { found: true, value: hit.value?.toString() ?? null };
  await cache.set('greeting', `${via}:${cache.deviceId}`);
  return { found: false, value: null };
}

@Controller('constructor/:appId/:deviceId')
export class ConstructorController {
  constructor(private readonly cache: ContextualCache) {}

  @Get('greeting')
  greeting() {
    return readThrough(this.cache, 'constructor');
  }
}

@Controller('param/:appId/:deviceId')
export class ParamController {
  @Get('greeting')
  greeting(@CurrentCache() cache: ContextualCache) {
    return readThrough(cache, 'param');
  }
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cache: RedisCacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.cache.isHealthy()]);
  }
}

@Module({
  imports: [
    TerminusModule,
    RedisCacheModule.forRoot({ url: process.env.REDIS_URL, isGlobal: true }),
  ],
  controllers: [ConstructorController, ParamController, HealthController],
  providers: [RedisCacheHealthIndicator],
})
export class AppModule {}
