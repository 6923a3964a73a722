// This module's ContextualCache, built as RedisCacheModule builds it (redis-cache.module.ts:
// createStore and the RedisCache provider), with metrics on in a fresh registry.
import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';
import type { Counter } from 'prom-client';
import type { CacheLookup } from '../../../src/redis-cache.interfaces';
import { PrometheusCacheMetrics } from '../../../src/metrics/prometheus-cache-metrics';
import { REDIS_CACHE_LOGGER_CONTEXT, RedisCache } from '../../../src/redis-cache';
import { resolveRedisCacheOptions } from '../../../src/redis-cache.options';
import { connectWithin, createRedisClient } from '../../../src/stores/redis-client.factory';
import { RedisStore } from '../../../src/stores/redis.store';
import { CacheTracer } from '../../../src/tracing/cache-tracer';
import { BENCH_APP, BENCH_DEVICE, BENCH_KEY, BENCH_VALUE } from '../../support/redis';
import { isBenchBuffer, KEYS, SET_TTL_SECONDS } from '../variants';
import type { LibraryOperation, Operation } from '../variants';

/** The module's client, store, metrics and tracer, with every option at its default. */
async function createModuleCache(url: string) {
  const registry = new Registry();
  const options = resolveRedisCacheOptions({ url, metrics: { registry } });
  const { connection } = options;
  if (connection.kind === 'client') throw new Error('expected a client the module creates');
  const client = createRedisClient(connection);
  const store = new RedisStore(client, {
    operationTimeoutMs: options.operationTimeoutMs,
    ownsClient: true,
    logger: new Logger(REDIS_CACHE_LOGGER_CONTEXT),
  });
  const notReady = await connectWithin(client, options.startupWaitMs);
  if (notReady) throw new Error(`Redis at ${url}: ${notReady}`);
  if (!(await store.databaseConfirmed(options.startupWaitMs))) {
    throw new Error(`Redis at ${url}: database not confirmed`);
  }
  const redisCache = new RedisCache(store, options, {
    observer: new PrometheusCacheMetrics(options.metrics.registry, options.metrics.prefix),
    tracer: new CacheTracer(options.tracing, store.kind),
  });
  const counter = registry.getSingleMetric(`${options.metrics.prefix}operations_total`) as
    Counter | undefined;
  if (!counter) throw new Error('metrics are off: no operations counter in the registry');
  return { redisCache, counter };
}

export async function cacheOperation(url: string, operation: LibraryOperation): Promise<Operation> {
  const { redisCache, counter } = await createModuleCache(url);
  const cache = redisCache.withContext(BENCH_APP, BENCH_DEVICE);
  if (cache.keyFor(KEYS.hit) !== BENCH_KEY) throw new Error('the hit key is not BENCH_KEY');

  const operations: Record<LibraryOperation, Pick<Operation, 'run' | 'isExpected'>> = {
    'get-hit': {
      run: () => cache.get(KEYS.hit),
      isExpected: (r) => (r as CacheLookup).found && isBenchBuffer((r as CacheLookup).value),
    },
    'get-miss': { run: () => cache.get(KEYS.miss), isExpected: (r) => !(r as CacheLookup).found },
    set: {
      run: () => cache.set(KEYS.set, BENCH_VALUE, SET_TTL_SECONDS),
      isExpected: (r) => r === undefined,
    },
  };
  // The label pair the module's counter gives this operation's expected result.
  const [metricOperation, metricResult] =
    operation === 'set' ? ['set', 'ok'] : ['get', operation === 'get-hit' ? 'hit' : 'miss'];
  return {
    ...operations[operation],
    swallowedErrors: () =>
      Object.values(redisCache.errorCounts()).reduce(
        (sum, byKind) => sum + Object.values(byKind).reduce((s, n) => s + (n ?? 0), 0),
        0,
      ),
    metricsCount: async () => {
      const { values } = await counter.get();
      const value = values.find(
        (v) => v.labels.operation === metricOperation && v.labels.result === metricResult,
      );
      return value?.value ?? NaN;
    },
    close: async () => {
      if (operation === 'set') await cache.delete(KEYS.set);
      await redisCache.close();
    },
  };
}
