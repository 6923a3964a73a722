// OpenTelemetry spans of the cache's operations, on a real Redis, caught by an in-memory exporter.
// The OpenTelemetry SDK needs Node 22.15+: jest.otel.config.js runs this suite (npm test runs it
// under Node 24 where the machine's Node is older); the library itself needs only the API.
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { RedisCache, RedisCacheModule } from '../src';
import type { RedisCacheModuleOptions } from '../src';
import { RedisServerProcess } from './support/redis-server';
import { acquireRedis } from './support/redis-target';
import type { RedisTarget } from './support/redis-target';
import { uniqueId } from './support/unique';

const SECRET_VALUE = 'secret-value-never-on-a-span';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
trace.setGlobalTracerProvider(provider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const requestTracer = trace.getTracer('test-request');

/** Runs `work` as the child of a span standing for the HTTP request; returns that span's id. */
async function inRequestSpan(work: () => Promise<void>): Promise<string> {
  const span = requestTracer.startSpan('GET /render', { kind: SpanKind.SERVER });
  await context.with(trace.setSpan(context.active(), span), work);
  span.end();
  return span.spanContext().spanId;
}

function cacheSpans(): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.name.startsWith('cache.'));
}

async function startCache(options: RedisCacheModuleOptions): Promise<TestingModule> {
  return Test.createTestingModule({
    imports: [RedisCacheModule.forRoot({ metrics: { enabled: false }, ...options })],
  }).compile();
}

describe('cache spans', () => {
  let target: RedisTarget;

  beforeAll(async () => {
    target = await acquireRedis();
  });
  afterAll(async () => {
    await target.release();
    await provider.shutdown();
  });
  beforeEach(() => exporter.reset());

  it('makes an INTERNAL span per operation, child of the request span, without db attributes, values or device ids', async () => {
    const moduleRef = await startCache({ url: target.url });
    const appId = uniqueId('clock');
    const cache = moduleRef.get(RedisCache).withContext(appId, 'device-42');
    const requestSpanId = await inRequestSpan(async () => {
      await cache.get('weather');
      await cache.set('weather', SECRET_VALUE);
      await cache.get('weather');
      await cache.delete('weather');
      await cache.stats();
      await cache.flushApp();
      await cache.flushDevice();
    });

    const spans = cacheSpans();
    expect(spans.map(({ name }) => name)).toEqual([
      'cache.get',
      'cache.set',
      'cache.get',
      'cache.delete',
      'cache.stats',
      'cache.flush_app',
      'cache.flush_device',
    ]);
    for (const span of spans) {
      // INTERNAL and without db.*: the database CLIENT span is the Redis client's own, so tools
      // that derive database metrics from spans count each command once.
      expect(span.kind).toBe(SpanKind.INTERNAL);
      expect(span.parentSpanContext?.spanId).toBe(requestSpanId);
      expect(span.attributes).toMatchObject({ 'cache.store': 'redis', 'cache.app_id': appId });
      expect(Object.keys(span.attributes).filter((name) => /^(db|server)\./.test(name))).toEqual(
        [],
      );
      expect(span.attributes).not.toHaveProperty('cache.device_id');
      expect(span.attributes).not.toHaveProperty('cache.key');
      expect(JSON.stringify(span.attributes)).not.toContain(SECRET_VALUE);
      expect(JSON.stringify(span.attributes)).not.toContain('device-42');
      expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    }
    expect(spans.map((span) => span.attributes['cache.operation'])).toEqual([
      'get',
      'set',
      'get',
      'delete',
      'stats',
      'flush_app',
      'flush_device',
    ]);
    expect(spans[0].attributes['cache.hit']).toBe(false);
    expect(spans[2].attributes['cache.hit']).toBe(true);
    await moduleRef.close();
  });

  it('adds the device id and the key only when the options allow it', async () => {
    const moduleRef = await startCache({
      url: target.url,
      tracing: { recordDeviceId: true, recordKey: true },
    });
    const cache = moduleRef.get(RedisCache).withContext('clock', 'device-42');
    await inRequestSpan(() => cache.set('weather', SECRET_VALUE));
    const [span] = cacheSpans();
    expect(span.attributes).toMatchObject({
      'cache.device_id': 'device-42',
      'cache.key': 'weather',
    });
    expect(JSON.stringify(span.attributes)).not.toContain(SECRET_VALUE);
    await moduleRef.close();
  });

  it('records a failure on the span with error.type, while the get still fails open', async () => {
    const server = await RedisServerProcess.start();
    const moduleRef = await startCache({ url: server.url });
    const cache = moduleRef.get(RedisCache).withContext('clock', 'dev1');
    await server.stop();
    try {
      await inRequestSpan(async () => {
        await expect(cache.get('k')).resolves.toEqual({ found: false, value: null });
      });
      const [span] = cacheSpans();
      expect(span.name).toBe('cache.get');
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(['connection', 'timeout']).toContain(span.attributes['error.type']);
    } finally {
      await moduleRef.close();
      await server.dispose();
    }
  });

  it('makes no span with tracing disabled', async () => {
    const moduleRef = await startCache({ store: 'memory', tracing: { enabled: false } });
    await inRequestSpan(() => moduleRef.get(RedisCache).withContext('a', 'd').set('k', 'v'));
    expect(cacheSpans()).toEqual([]);
    await moduleRef.close();
  });

  it('marks memory-store spans as such', async () => {
    const moduleRef = await startCache({ store: 'memory' });
    await inRequestSpan(async () => {
      await moduleRef.get(RedisCache).withContext('a', 'd').get('k');
    });
    const [span] = cacheSpans();
    expect(span.attributes).toMatchObject({ 'cache.store': 'memory', 'cache.hit': false });
    await moduleRef.close();
  });
});
