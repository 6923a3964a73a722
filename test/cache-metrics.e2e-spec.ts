// Prometheus metrics recorded by the cache itself, on a real Redis.
import { Controller, Get, StreamableFile, UseInterceptors } from '@nestjs/common';
import { Readable } from 'node:stream';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import {
  CacheMetricsInterceptor,
  ContextualCache,
  CurrentCache,
  RedisCache,
  RedisCacheModule,
} from '../src';
import type { RedisCacheModuleOptions } from '../src';
import { HTTP_ADAPTERS, createHttpApp } from './support/http-app';
import { RedisServerProcess } from './support/redis-server';
import { acquireRedis } from './support/redis-target';
import type { RedisTarget } from './support/redis-target';
import { pollUntil } from './support/poll';
import { valueOf } from './support/registry-values';
import { uniqueId } from './support/unique';

async function startCache(options: RedisCacheModuleOptions): Promise<TestingModule> {
  return Test.createTestingModule({ imports: [RedisCacheModule.forRoot(options)] }).compile();
}

describe('cache metrics', () => {
  let target: RedisTarget;

  beforeAll(async () => {
    target = await acquireRedis();
  });
  afterAll(() => target.release());

  it('counts every operation by result and times it', async () => {
    const registry = new Registry();
    const moduleRef = await startCache({ url: target.url, metrics: { registry } });
    const cache = moduleRef.get(RedisCache).withContext(uniqueId('app'), 'dev1');
    const count = (operation: string, result: string) =>
      valueOf(registry, 'matrx_cache_operations_total', { operation, result });

    await cache.get('k');
    await cache.set('k', 'v');
    await cache.get('k');
    await cache.get('k');
    await cache.delete('k');
    await cache.stats();
    await cache.flushApp();
    await cache.flushDevice();

    expect(await count('get', 'miss')).toBe(1);
    expect(await count('get', 'hit')).toBe(2);
    expect(await count('set', 'ok')).toBe(1);
    expect(await count('delete', 'ok')).toBe(1);
    expect(await count('stats', 'ok')).toBe(1);
    expect(await count('flush_app', 'ok')).toBe(1);
    expect(await count('flush_device', 'ok')).toBe(1);
    expect(await count('get', 'error')).toBe(0);
    const gets = await valueOf(registry, 'matrx_cache_operation_duration_seconds_count', {
      operation: 'get',
    });
    expect(gets).toBe(3);
    // Every GET took under a second, and the buckets go down to 0.1 ms.
    const underOneSecond = await valueOf(
      registry,
      'matrx_cache_operation_duration_seconds_bucket',
      {
        operation: 'get',
        le: '1',
      },
    );
    expect(underOneSecond).toBe(3);
    const text = await registry.metrics();
    expect(text).toContain(
      'matrx_cache_operation_duration_seconds_bucket{le="0.0001",operation="get"}',
    );
    expect(text).toContain(
      'matrx_cache_operation_duration_seconds_bucket{le="0.00025",operation="get"}',
    );
    await moduleRef.close();
  });

  it('exports every operation, result and error kind at zero before any operation', async () => {
    const registry = new Registry();
    const moduleRef = await startCache({ store: 'memory', metrics: { registry } });
    const text = await registry.metrics();
    expect(text).toContain('matrx_cache_operations_total{operation="get",result="hit"} 0');
    expect(text).toContain('matrx_cache_errors_total{operation="flush_device",kind="timeout"} 0');
    expect(text).toContain('matrx_cache_errors_total{operation="get",kind="overload"} 0');
    expect(text).toContain('matrx_cache_operation_duration_seconds_count{operation="stats"} 0');
    await moduleRef.close();
  });

  it('counts failures by kind while failing open', async () => {
    const server = await RedisServerProcess.start();
    const registry = new Registry();
    const moduleRef = await startCache({ url: server.url, metrics: { registry } });
    const cache = moduleRef.get(RedisCache).withContext('clock', 'dev1');
    await cache.set('k', 'v');
    await server.stop();
    try {
      await expect(cache.get('k')).resolves.toEqual({ found: false, value: null });
      await expect(cache.stats()).rejects.toThrow();
      expect(
        await valueOf(registry, 'matrx_cache_operations_total', {
          operation: 'get',
          result: 'error',
        }),
      ).toBe(1);
      const errors = registry.getSingleMetric('matrx_cache_errors_total');
      const values = (await errors!.get()).values.filter((value) => value.value > 0);
      expect(values.map(({ labels }) => labels.operation).sort()).toEqual(['get', 'stats']);
      expect(
        values.every(({ labels }) => ['timeout', 'connection'].includes(String(labels.kind))),
      ).toBe(true);
    } finally {
      await moduleRef.close();
      await server.dispose();
    }
  });

  it('shares the metrics when the module is registered twice, and uses the prefix', async () => {
    const registry = new Registry();
    const first = await startCache({
      store: 'memory',
      metrics: { registry, prefix: 'edge_cache_' },
    });
    const second = await startCache({
      store: 'memory',
      metrics: { registry, prefix: 'edge_cache_' },
    });
    await first.get(RedisCache).withContext('a', 'd').get('k');
    await second.get(RedisCache).withContext('a', 'd').get('k');
    expect(
      await valueOf(registry, 'edge_cache_operations_total', { operation: 'get', result: 'miss' }),
    ).toBe(2);
    expect(registry.getSingleMetric('matrx_cache_operations_total')).toBeUndefined();
    await first.close();
    await second.close();
  });

  it('records nothing with metrics disabled', async () => {
    const registry = new Registry();
    const moduleRef = await startCache({ store: 'memory', metrics: { registry, enabled: false } });
    await moduleRef.get(RedisCache).withContext('a', 'd').get('k');
    expect(await registry.getMetricsAsJSON()).toEqual([]);
    await moduleRef.close();
  });
});

describe('request metrics', () => {
  @Controller()
  @UseInterceptors(CacheMetricsInterceptor)
  class MeasuredController {
    @Get('apps/:appId/devices/:deviceId/value')
    async value(@CurrentCache() cache: ContextualCache) {
      const hit = await cache.get('k');
      if (!hit.found) await cache.set('k', 'v');
      return { hit: hit.found };
    }

    @Get('plain/:id')
    plain() {
      return { ok: true };
    }
  }

  it.each(HTTP_ADAPTERS)(
    '%s: records latency by route pattern and by what the cache reads found, once per request',
    async (adapter) => {
      const registry = new Registry();
      const app = await createHttpApp(adapter, {
        imports: [RedisCacheModule.forRoot({ store: 'memory', metrics: { registry } })],
        controllers: [MeasuredController],
      });
      const server = app.getHttpServer();
      await request(server).get('/apps/clock/devices/dev-alpha/value').expect(200, { hit: false });
      await request(server).get('/apps/clock/devices/dev-alpha/value').expect(200, { hit: true });
      await request(server).get('/apps/clock/devices/dev-beta/value').expect(200, { hit: false });
      await request(server).get('/plain/id-gamma').expect(200);
      await request(server).get('/plain/id-delta').expect(200);
      const count = (route: string, cache: string) =>
        valueOf(registry, 'matrx_cache_request_duration_seconds_count', { route, cache });
      const route = '/apps/:appId/devices/:deviceId/value';
      // The response hook records once the response has gone, which may follow the client's read.
      await pollUntil(async () => expect(await count('/plain/:id', 'none')).toBe(2));
      expect(await count(route, 'miss')).toBe(2);
      expect(await count(route, 'hit')).toBe(1);
      expect(await count('/plain/:id', 'none')).toBe(2);
      // Patterns only: no id ever reaches a label.
      const text = await registry.metrics();
      for (const id of ['dev-alpha', 'dev-beta', 'id-gamma', 'id-delta']) {
        expect(text).not.toContain(id);
      }
      await app.close();
    },
  );

  @Controller()
  class UnmeasuredController {
    constructor(private readonly cache: ContextualCache) {}

    @Get('injected/:appId/:deviceId')
    async injected() {
      return { hit: (await this.cache.get('k')).found };
    }

    @Get('decorated/:appId/:deviceId')
    async decorated(@CurrentCache() cache: ContextualCache) {
      await cache.set('k', 'v');
      return { hit: (await cache.get('k')).found };
    }
  }

  @Controller()
  class StreamingController {
    /** The body streams for 300 ms after the handler has returned. */
    @Get('streamed/:appId/:deviceId')
    async streamed(@CurrentCache() cache: ContextualCache) {
      await cache.get('k');
      async function* body() {
        yield 'first ';
        await new Promise((resolve) => setTimeout(resolve, 300));
        yield 'last';
      }
      return new StreamableFile(Readable.from(body()));
    }
  }

  it.each(HTTP_ADAPTERS)(
    '%s: times a request to the end of its response, a streamed body included',
    async (adapter) => {
      const registry = new Registry();
      const app = await createHttpApp(adapter, {
        imports: [RedisCacheModule.forRoot({ store: 'memory', metrics: { registry } })],
        controllers: [StreamingController],
      });
      await request(app.getHttpServer()).get('/streamed/clock/d1').expect(200);
      const labels = { route: '/streamed/:appId/:deviceId', cache: 'miss' };
      await pollUntil(async () =>
        expect(await valueOf(registry, 'matrx_cache_request_duration_seconds_count', labels)).toBe(
          1,
        ),
      );
      const seconds = await valueOf(registry, 'matrx_cache_request_duration_seconds_sum', labels);
      expect(seconds).toBeGreaterThanOrEqual(0.29);
      expect(seconds).toBeLessThan(5);
      await app.close();
    },
  );

  @Controller()
  class NoCacheController {
    @Get('nothing/:id')
    nothing() {
      return { ok: true };
    }
  }

  it.each(HTTP_ADAPTERS)(
    '%s: records the routes that use the cache without any interceptor, once each',
    async (adapter) => {
      const registry = new Registry();
      const app = await createHttpApp(adapter, {
        imports: [RedisCacheModule.forRoot({ store: 'memory', metrics: { registry } })],
        controllers: [UnmeasuredController, NoCacheController],
      });
      const server = app.getHttpServer();
      await request(server).get('/decorated/clock/d1').expect(200, { hit: true });
      await request(server).get('/injected/clock/d1').expect(200, { hit: true });
      await request(server).get('/injected/clock/d2').expect(200, { hit: false });
      await request(server).get('/nothing/1').expect(200);
      const count = (route: string, cache: string) =>
        valueOf(registry, 'matrx_cache_request_duration_seconds_count', { route, cache });
      // Recorded once each response has gone, which may follow the client's read.
      await pollUntil(async () =>
        expect(await count('/injected/:appId/:deviceId', 'miss')).toBe(1),
      );
      expect(await count('/decorated/:appId/:deviceId', 'hit')).toBe(1);
      expect(await count('/injected/:appId/:deviceId', 'hit')).toBe(1);
      expect(await registry.metrics()).not.toContain('/nothing/');
      await app.close();
    },
  );
});

describe('backend_up', () => {
  it('is 1 while Redis answers, 0 once it stops, and 1 again after it restarts', async () => {
    const server = await RedisServerProcess.start();
    const registry = new Registry();
    const moduleRef = await startCache({ url: server.url, metrics: { registry } });
    const up = () => valueOf(registry, 'matrx_cache_backend_up', {});
    try {
      expect(await up()).toBe(1);
      await server.stop();
      await pollUntil(async () => expect(await up()).toBe(0));
      await server.restart();
      await pollUntil(async () => expect(await up()).toBe(1), 10_000);
    } finally {
      await moduleRef.close();
      await server.dispose();
    }
  }, 20_000);

  it('is 1 on the memory store', async () => {
    const registry = new Registry();
    const moduleRef = await startCache({ store: 'memory', metrics: { registry } });
    expect(await valueOf(registry, 'matrx_cache_backend_up', {})).toBe(1);
    await moduleRef.close();
  });
});
