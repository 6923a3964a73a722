// getOrSet's own metrics (loads, the Redis lock, early refreshes, joined flights), through the
// module with a registry of the test's own, on a redis-server the suite starts (and stops).
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { RedisCache, RedisCacheModule } from '../src';
import type { RedisCacheModuleOptions } from '../src';
import { RedisServerProcess } from './support/redis-server';
import { sleep, uniqueId } from './support/unique';

/** Every getOrSet series in the registry, as `name{label="value"}` → value. */
async function getOrSetSeries(registry: Registry): Promise<Record<string, number>> {
  const series: Record<string, number> = {};
  for (const metric of await registry.getMetricsAsJSON()) {
    if (!metric.name.includes('getorset')) continue;
    for (const { labels, value } of metric.values) {
      const text = Object.entries(labels)
        .map(([name, label]) => `${name}="${String(label)}"`)
        .join(',');
      series[text ? `${metric.name}{${text}}` : metric.name] = value;
    }
  }
  return series;
}

const ZERO = {
  'matrx_cache_getorset_loads_total{result="ok"}': 0,
  'matrx_cache_getorset_loads_total{result="error"}': 0,
  'matrx_cache_getorset_lock_total{outcome="acquired"}': 0,
  'matrx_cache_getorset_lock_total{outcome="waited"}': 0,
  'matrx_cache_getorset_lock_total{outcome="timed_out"}': 0,
  'matrx_cache_getorset_lock_total{outcome="unavailable"}': 0,
  matrx_cache_getorset_early_refreshes_total: 0,
  matrx_cache_getorset_joins_total: 0,
};

describe('getOrSet metrics', () => {
  let server: RedisServerProcess;
  let raw: Redis;
  const modules: TestingModule[] = [];

  /** Resolves once some instance holds the lock of `/app/{device}/k` (on a busy machine, not at once). */
  async function lockTaken(device: string): Promise<void> {
    while (!(await raw.exists(`lock:/app/${device}/k`))) await sleep(5);
  }

  async function startCache(
    stampede: RedisCacheModuleOptions['stampede'] = {},
  ): Promise<{ cache: RedisCache; registry: Registry }> {
    const registry = new Registry();
    const moduleRef = await Test.createTestingModule({
      imports: [
        RedisCacheModule.forRoot({
          url: server.url,
          operationTimeoutMs: 300,
          stampede,
          metrics: { registry, keyCountIntervalMs: 0 },
        }),
      ],
    }).compile();
    modules.push(moduleRef);
    return { cache: moduleRef.get(RedisCache), registry };
  }

  beforeAll(async () => {
    // The unavailable case logs its warnings; what it asserts is the counts.
    Logger.overrideLogger(false);
    server = await RedisServerProcess.start();
    raw = new Redis(server.url);
  });
  afterAll(async () => {
    raw.disconnect();
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
    await Promise.all(modules.map((moduleRef) => moduleRef.close()));
    await server.dispose();
  });

  it('exports every series at zero before any getOrSet', async () => {
    const { registry } = await startCache();
    expect(await getOrSetSeries(registry)).toEqual(ZERO);
  });

  it('counts one load and the callers that joined it, then a failed load', async () => {
    const { cache, registry } = await startCache();
    const ctx = cache.withContext('app', uniqueId('device'));
    const loader = async () => {
      await sleep(100);
      return 'value';
    };
    await Promise.all(Array.from({ length: 20 }, () => ctx.getOrSet('k', loader)));
    await ctx.getOrSet('k', loader); // a hit: no load, no join
    await expect(
      ctx.getOrSet('failing', () => Promise.reject(new Error('backend down'))),
    ).rejects.toThrow('backend down');
    expect(await getOrSetSeries(registry)).toEqual({
      ...ZERO,
      'matrx_cache_getorset_loads_total{result="ok"}': 1,
      'matrx_cache_getorset_loads_total{result="error"}': 1,
      matrx_cache_getorset_joins_total: 19,
    });
  });

  it('counts the lock taken by one instance and waited for by another', async () => {
    const first = await startCache({ lock: true });
    const second = await startCache({ lock: true, lockWaitMs: 2_000 });
    const device = uniqueId('device');
    const loader = async () => {
      await sleep(300);
      return 'value';
    };
    const holder = first.cache.withContext('app', device).getOrSet('k', loader);
    await lockTaken(device);
    const waiter = second.cache.withContext('app', device).getOrSet('k', loader);
    expect((await Promise.all([holder, waiter])).map(String)).toEqual(['value', 'value']);
    expect(await getOrSetSeries(first.registry)).toMatchObject({
      'matrx_cache_getorset_lock_total{outcome="acquired"}': 1,
      'matrx_cache_getorset_loads_total{result="ok"}': 1,
    });
    expect(await getOrSetSeries(second.registry)).toMatchObject({
      'matrx_cache_getorset_lock_total{outcome="waited"}': 1,
      'matrx_cache_getorset_loads_total{result="ok"}': 0,
    });
  });

  it('counts a wait that timed out, and the load after it', async () => {
    const first = await startCache({ lock: true });
    const second = await startCache({ lock: true, lockWaitMs: 50 });
    const device = uniqueId('device');
    const slow = async () => {
      await sleep(400);
      return 'slow';
    };
    const holder = first.cache.withContext('app', device).getOrSet('k', slow);
    await lockTaken(device);
    await second.cache.withContext('app', device).getOrSet('k', () => Promise.resolve('fast'));
    await holder;
    expect(await getOrSetSeries(second.registry)).toMatchObject({
      'matrx_cache_getorset_lock_total{outcome="timed_out"}': 1,
      'matrx_cache_getorset_loads_total{result="ok"}': 1,
    });
  });

  it('counts early refreshes started by hits', async () => {
    // A 1 s TTL, a 50 ms load and beta 100: XFetch refreshes a hit when -5000 ms × ln(random)
    // reaches the ~1000 ms left, so about 4 hits in 5 do; 10 hits all missing it: about 1e-7.
    const { cache, registry } = await startCache({ earlyRefresh: true, earlyRefreshBeta: 100 });
    const ctx = cache.withContext('app', uniqueId('device'));
    const loader = async () => {
      await sleep(50);
      return 'value';
    };
    await ctx.getOrSet('k', loader, 1);
    for (let i = 0; i < 10; i++) await ctx.getOrSet('k', loader, 1);
    await sleep(200); // the refreshes run in the background
    const series = await getOrSetSeries(registry);
    expect(series.matrx_cache_getorset_early_refreshes_total).toBeGreaterThan(0);
    expect(series['matrx_cache_getorset_loads_total{result="ok"}']).toBeGreaterThan(1);
  });

  it('counts a lock Redis could not give as unavailable, and still loads', async () => {
    const own = await RedisServerProcess.start();
    const registry = new Registry();
    const moduleRef = await Test.createTestingModule({
      imports: [
        RedisCacheModule.forRoot({
          url: own.url,
          operationTimeoutMs: 200,
          stampede: { lock: true },
          metrics: { registry, keyCountIntervalMs: 0 },
        }),
      ],
    }).compile();
    try {
      await own.stop();
      const ctx = moduleRef.get(RedisCache).withContext('app', 'device');
      expect(String(await ctx.getOrSet('k', () => Promise.resolve('loaded')))).toBe('loaded');
      expect(await getOrSetSeries(registry)).toMatchObject({
        'matrx_cache_getorset_lock_total{outcome="unavailable"}': 1,
        'matrx_cache_getorset_loads_total{result="ok"}': 1,
      });
    } finally {
      await moduleRef.close();
      await own.dispose();
    }
  });
});
