// The terminus health indicator (`nestjs-redis-app-cache/terminus`) and @InjectRedisClient(), in a
// real HTTP app on a redis-server this suite starts, stops and freezes itself.
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { InjectRedisClient, REDIS_CACHE_CLIENT, RedisCacheModule } from '../src';
import type { RedisCacheModuleOptions } from '../src';
import { RedisCacheHealthIndicator } from '../src/health';
import { createHttpApp } from './support/http-app';
import { RedisServerProcess } from './support/redis-server';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cache: RedisCacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.cache.isHealthy('cache', { timeoutMs: 300 })]);
  }
}

@Injectable()
class ClientUser {
  constructor(@InjectRedisClient() readonly client: Redis | null) {}
}

async function startApp(options: RedisCacheModuleOptions): Promise<INestApplication> {
  @Module({
    imports: [TerminusModule, RedisCacheModule.forRoot({ operationTimeoutMs: 200, ...options })],
    controllers: [HealthController],
    providers: [RedisCacheHealthIndicator, ClientUser],
  })
  class HealthAppModule {}
  return createHttpApp('express', { imports: [HealthAppModule] });
}

interface CacheHealth {
  status: string;
  store?: string;
  redis?: string;
  mode?: string;
  latencyMs?: number;
  error?: string;
}

describe('RedisCacheHealthIndicator', () => {
  let server: RedisServerProcess;
  let app: INestApplication | undefined;

  beforeEach(async () => {
    server = await RedisServerProcess.start();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await server.dispose();
  });

  it('is up with the PING latency while Redis answers', async () => {
    app = await startApp({ url: server.url });
    const response = await request(app.getHttpServer()).get('/health').expect(200);
    const cache = response.body.info.cache as CacheHealth;
    expect(cache).toMatchObject({ status: 'up', store: 'redis', redis: 'up' });
    expect(cache.latencyMs).toBeGreaterThanOrEqual(0);
    expect(cache.latencyMs).toBeLessThan(300);
  });

  it('stays up, saying Redis is down and the cache fails open, when Redis is gone', async () => {
    app = await startApp({ url: server.url });
    await server.stop();
    const response = await request(app.getHttpServer()).get('/health').expect(200);
    const cache = response.body.info.cache as CacheHealth;
    expect(cache).toMatchObject({ status: 'up', redis: 'down', mode: 'fail-open' });
    expect(cache.error).toEqual(expect.any(String));
    expect(cache.latencyMs).toBeUndefined();
  });

  it('is down (HTTP 503) when Redis is gone and the cache does not fail open', async () => {
    app = await startApp({ url: server.url, failOpen: false });
    await server.stop();
    const response = await request(app.getHttpServer()).get('/health').expect(503);
    const cache = response.body.error.cache as CacheHealth;
    expect(cache).toMatchObject({ status: 'down', redis: 'down' });
    expect(cache.error).toEqual(expect.any(String));
  });

  it('reports a frozen Redis down within its timeout instead of hanging the check', async () => {
    app = await startApp({ url: server.url, failOpen: false, operationTimeoutMs: 5_000 });
    server.freeze();
    const started = performance.now();
    const response = await request(app.getHttpServer()).get('/health').expect(503);
    const elapsed = performance.now() - started;
    server.thaw();
    expect(response.body.error.cache.error).toMatch(/300 ms/);
    expect(elapsed).toBeLessThan(3_000);
  });

  it('reports the memory store without a redis field', async () => {
    app = await startApp({ store: 'memory' });
    const response = await request(app.getHttpServer()).get('/health').expect(200);
    expect(response.body.info.cache).toMatchObject({ status: 'up', store: 'memory' });
    expect(response.body.info.cache.redis).toBeUndefined();
  });
});

describe('@InjectRedisClient()', () => {
  let server: RedisServerProcess;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    server = await RedisServerProcess.start();
  });
  afterAll(async () => {
    await server.dispose();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('injects the module’s own connected client', async () => {
    app = await startApp({ url: server.url });
    const { client } = app.get(ClientUser);
    expect(client).toBe(app.get(REDIS_CACHE_CLIENT));
    await expect(client?.ping()).resolves.toBe('PONG');
  });

  it('injects null with the memory store', async () => {
    app = await startApp({ store: 'memory' });
    expect(app.get(ClientUser).client).toBeNull();
  });
});
