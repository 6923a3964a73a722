// The cache's operations recorded through the OpenTelemetry metrics API (metrics.openTelemetry),
// collected by the SDK's MeterProvider, over HTTP on a redis-server the suite starts (and stops).
// The SDK needs Node 22.15+: jest.otel.config.js runs this suite.
import { Controller, Get, Param } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import { ContextualCache, CurrentCache, RedisCache, RedisCacheModule } from '../src';
import type { RedisCacheModuleOptions } from '../src';
import { captureLogs } from './support/capture-logger';
import { createHttpApp } from './support/http-app';
import { RedisServerProcess } from './support/redis-server';
import { uniqueId } from './support/unique';

/** Collects on demand, as a periodic exporter would at its interval. */
class CollectingReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Point {
  attributes: Record<string, unknown>;
  count: number;
}

/** The `db.client.operation.duration` data points the reader sees now. */
async function durationPoints(reader: MetricReader): Promise<Point[]> {
  const { resourceMetrics } = await reader.collect();
  const found = resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .filter((metric) => metric.descriptor.name === 'db.client.operation.duration');
  expect(found.length).toBeLessThanOrEqual(1);
  if (found.length === 0) return [];
  const histogram = found[0] as HistogramMetricData;
  expect(histogram.dataPointType).toBe(DataPointType.HISTOGRAM);
  expect(histogram.descriptor.unit).toBe('s');
  return histogram.dataPoints.map((point) => ({
    attributes: point.attributes,
    count: point.value.count,
  }));
}

function countOf(points: Point[], attributes: Record<string, unknown>): number {
  return points
    .filter((point) =>
      Object.entries(attributes).every(([name, value]) => point.attributes[name] === value),
    )
    .reduce((sum, point) => sum + point.count, 0);
}

@Controller('apps/:appId/devices/:deviceId')
class ValueController {
  @Get('value/:key')
  async value(@CurrentCache() cache: ContextualCache, @Param('key') key: string) {
    const found = await cache.get(key);
    if (found.found) return { value: found.value.toString(), hit: true };
    await cache.set(key, `value-of-${key}`);
    return { value: `value-of-${key}`, hit: false };
  }

  @Get('stats')
  stats(@CurrentCache() cache: ContextualCache) {
    return cache.stats();
  }
}

describe('OpenTelemetry metrics (metrics.openTelemetry)', () => {
  let server: RedisServerProcess;
  const closers: (() => Promise<unknown>)[] = [];

  async function startApp(metricsOptions: RedisCacheModuleOptions['metrics'], store?: 'memory') {
    const app = await createHttpApp('express', {
      imports: [
        RedisCacheModule.forRoot({
          ...(store ? { store } : { url: `${server.url}/3` }),
          operationTimeoutMs: 300,
          startupWaitMs: 300,
          metrics: { registry: new Registry(), keyCountIntervalMs: 0, ...metricsOptions },
        }),
      ],
      controllers: [ValueController],
    });
    closers.push(() => app.close());
    return app;
  }

  function newProvider(): { provider: MeterProvider; reader: CollectingReader } {
    const reader = new CollectingReader();
    const provider = new MeterProvider({ readers: [reader] });
    closers.push(() => provider.shutdown());
    return { provider, reader };
  }

  beforeAll(async () => {
    server = await RedisServerProcess.start();
  });
  afterEach(() => {
    metrics.disable();
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await server.dispose();
  });

  it('records each operation with the conventions’ attributes, hits and misses, and no id or key', async () => {
    const { provider, reader } = newProvider();
    const app = await startApp({ openTelemetry: { meterProvider: provider } });
    const [first, second] = [uniqueId('device'), uniqueId('device')];
    const key = uniqueId('key');
    const get = (device: string) =>
      request(app.getHttpServer()).get(`/apps/clock/devices/${device}/value/${key}`).expect(200);
    // Two devices at once, then the first again: two misses and two writes, then a hit.
    const answers = await Promise.all([get(first), get(second)]);
    expect(answers.map((answer) => (answer.body as { hit: boolean }).hit)).toEqual([false, false]);
    expect(((await get(first)).body as { hit: boolean }).hit).toBe(true);

    const points = await durationPoints(reader);
    const location = {
      'db.system.name': 'redis',
      'db.namespace': '3',
      'server.address': '127.0.0.1',
      'server.port': server.port,
    };
    expect(points.map((point) => point.attributes)).toEqual(
      expect.arrayContaining([
        { ...location, 'db.operation.name': 'get', 'cache.hit': false },
        { ...location, 'db.operation.name': 'get', 'cache.hit': true },
        { ...location, 'db.operation.name': 'set' },
      ]),
    );
    expect(points).toHaveLength(3);
    expect(countOf(points, { 'db.operation.name': 'get', 'cache.hit': false })).toBe(2);
    expect(countOf(points, { 'db.operation.name': 'get', 'cache.hit': true })).toBe(1);
    expect(countOf(points, { 'db.operation.name': 'set' })).toBe(2);
    const everything = JSON.stringify(points);
    for (const secret of [first, second, key, 'value-of']) expect(everything).not.toContain(secret);
  });

  it('keeps the Prometheus metrics as they are', async () => {
    const { provider } = newProvider();
    const registry = new Registry();
    const app = await startApp({ registry, openTelemetry: { meterProvider: provider } });
    await request(app.getHttpServer())
      .get(`/apps/clock/devices/${uniqueId('device')}/value/k`)
      .expect(200);
    const text = await registry.metrics();
    expect(text).toContain('matrx_cache_operations_total{operation="get",result="miss"} 1');
    expect(text).toContain('matrx_cache_operations_total{operation="set",result="ok"} 1');
  });

  it('says why an operation failed in error.type, while Redis is down', async () => {
    const own = await RedisServerProcess.start();
    try {
      const { provider, reader } = newProvider();
      const moduleRef = await Test.createTestingModule({
        imports: [
          RedisCacheModule.forRoot({
            url: own.url,
            operationTimeoutMs: 300,
            metrics: {
              registry: new Registry(),
              keyCountIntervalMs: 0,
              openTelemetry: { meterProvider: provider },
            },
          }),
        ],
      }).compile();
      moduleRef.useLogger(false);
      closers.push(() => moduleRef.close());
      const cache = moduleRef.get(RedisCache).withContext('clock', uniqueId('device'));
      await own.stop();
      expect(await cache.get('k')).toEqual({ found: false, value: null });
      await expect(cache.stats()).rejects.toMatchObject({ kind: 'connection' });
      const points = await durationPoints(reader);
      expect(countOf(points, { 'db.operation.name': 'get', 'error.type': 'connection' })).toBe(1);
      expect(countOf(points, { 'db.operation.name': 'stats', 'error.type': 'connection' })).toBe(1);
      expect(points.every((point) => !('cache.hit' in point.attributes))).toBe(true);
    } finally {
      await own.dispose();
    }
  });

  it('uses the global MeterProvider with openTelemetry: true, and records nothing by default', async () => {
    const { provider, reader } = newProvider();
    metrics.setGlobalMeterProvider(provider);
    const off = await startApp({});
    await request(off.getHttpServer()).get(`/apps/clock/devices/d/value/${uniqueId('k')}`);
    expect(await durationPoints(reader)).toEqual([]);

    const on = await startApp({ openTelemetry: true });
    await request(on.getHttpServer()).get(`/apps/clock/devices/d/value/${uniqueId('k')}`);
    const points = await durationPoints(reader);
    expect(countOf(points, { 'db.operation.name': 'get', 'cache.hit': false })).toBe(1);
  });

  it('warns when asked to record through a global MeterProvider that nobody registered', async () => {
    const logs = captureLogs();
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [
          RedisCacheModule.forRoot({
            store: 'memory',
            metrics: { openTelemetry: true, registry: new Registry() },
          }),
        ],
      })
        .setLogger(logs.logger)
        .compile();
      closers.push(() => moduleRef.close());
    } finally {
      logs.restore();
    }
    expect(logs.lines).toContainEqual({
      level: 'warn',
      message: expect.stringContaining(
        'no OpenTelemetry MeterProvider is registered: start the OpenTelemetry SDK before the app is created',
      ) as string,
    });
  });

  it('names the embedded store as the system, without a namespace or server', async () => {
    const { provider, reader } = newProvider();
    const app = await startApp({ openTelemetry: { meterProvider: provider } }, 'memory');
    await request(app.getHttpServer()).get(`/apps/clock/devices/d/value/k`).expect(200);
    const points = await durationPoints(reader);
    expect(points.map((point) => point.attributes)).toContainEqual({
      'db.system.name': 'memory',
      'db.operation.name': 'get',
      'cache.hit': false,
    });
  });
});
