// The memory benchmark's worker (run with --expose-gc): --ops cache operations (80 % gets, about
// half of them hits; 20 % sets), --concurrency in flight, in chunks of --sample-every; after each
// chunk the in-flight operations finish, GC runs twice and process.memoryUsage() is recorded.
// Prints `RESULT {json}` (a MemoryWorkerResult).
//   node --expose-gc bench/dist/bench/memory/worker.js --variant contextual-cache \
//     --redis redis://127.0.0.1:PORT --tag TAG --ops 1000000 --sample-every 100000
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { RedisCache } from '../../src';
import { PrometheusCacheMetrics } from '../../src/metrics/prometheus-cache-metrics';
import { REDIS_CACHE_DEFAULTS } from '../../src/redis-cache.options';
import { RedisStore } from '../../src/stores/redis.store';
import { Args } from '../support/args';
import { BENCH_VALUE } from '../support/redis';
import {
  appName,
  APPS,
  deviceName,
  DEVICES,
  GET_KEYS,
  GET_SHARE,
  keyName,
  MEMORY_VARIANTS,
  SET_KEYS,
  VALUE_TTL_SECONDS,
} from './variants';
import type { MemorySample, MemoryVariant, MemoryWorkerResult } from './variants';

/** One operation in the context (app, device): a get of `key`, or a set. */
type Operation = (app: string, device: string, key: string, isGet: boolean) => Promise<void>;

/**
 * Writes every key sets write, so gets hit about half the time from the start. In its own frame:
 * the pipeline and its replies are garbage before the first sample.
 */
async function writeSetKeys(
  client: Redis,
  apps: readonly string[],
  devices: readonly string[],
  keys: readonly string[],
): Promise<void> {
  for (const app of apps) {
    const pipeline = client.pipeline();
    for (const device of devices) {
      for (let k = 0; k < SET_KEYS; k++) {
        pipeline.set(`/${app}/${device}/${keys[k]}`, BENCH_VALUE, 'EX', VALUE_TTL_SECONDS);
      }
    }
    await pipeline.exec();
  }
}

async function main(): Promise<void> {
  const args = new Args([], ['variant', 'redis', 'tag', 'ops', 'sample-every', 'concurrency']);
  const variant = args.required('variant') as MemoryVariant;
  if (!MEMORY_VARIANTS.includes(variant)) throw new Error(`Unknown --variant ${variant}`);
  const tag = args.required('tag');
  const totalOps = args.number('ops', 1_000_000);
  const sampleEvery = args.number('sample-every', 100_000);
  const concurrency = args.number('concurrency', 64);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('Run the worker with --expose-gc');

  const client = new Redis(args.required('redis'), { lazyConnect: true });
  await client.connect();
  const apps = Array.from({ length: APPS }, (_, i) => appName(tag, i));
  const devices = Array.from({ length: DEVICES }, (_, i) => deviceName(i));
  const keys = Array.from({ length: GET_KEYS }, (_, i) => keyName(i));

  let registry: Registry | undefined;
  let operation: Operation;
  let hits = 0;
  let misses = 0;
  if (variant === 'contextual-cache') {
    registry = new Registry();
    const store = new RedisStore(client, {
      operationTimeoutMs: REDIS_CACHE_DEFAULTS.operationTimeoutMs,
      ownsClient: false,
      logger: new Logger('RedisCache'),
    });
    const cache = new RedisCache(store, undefined, {
      observer: new PrometheusCacheMetrics(registry, REDIS_CACHE_DEFAULTS.metricsPrefix),
    });
    operation = async (app, device, key, isGet) => {
      const context = cache.withContext(app, device);
      if (!isGet) {
        await context.set(key, BENCH_VALUE, VALUE_TTL_SECONDS);
        return;
      }
      const lookup = await context.get(key);
      if (lookup.found) hits++;
      else misses++;
    };
  } else {
    operation = async (app, device, key, isGet) => {
      const redisKey = `/${app}/${device}/${key}`;
      if (!isGet) {
        await client.set(redisKey, BENCH_VALUE, 'EX', VALUE_TTL_SECONDS);
        return;
      }
      const value = await client.getBuffer(redisKey);
      if (value) hits++;
      else misses++;
    };
  }

  await writeSetKeys(client, apps, devices, keys);

  let started = 0;
  let sets = 0;
  let errors = 0;
  const runChunk = async (until: number) => {
    const loop = async () => {
      while (started < until) {
        started++;
        const isGet = Math.random() < GET_SHARE;
        if (!isGet) sets++;
        const app = apps[Math.floor(Math.random() * APPS)];
        const device = devices[Math.floor(Math.random() * DEVICES)];
        const key = keys[Math.floor(Math.random() * (isGet ? GET_KEYS : SET_KEYS))];
        try {
          await operation(app, device, key, isGet);
        } catch {
          errors++;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
  };

  const series: MemorySample[] = [];
  const sample = async (opsPerSec: number) => {
    // A scrape, as Prometheus would do: part of what metrics cost over time.
    if (registry) await registry.metrics();
    gc();
    gc();
    const usage = process.memoryUsage();
    series.push({
      ops: started,
      rssBytes: usage.rss,
      heapUsedBytes: usage.heapUsed,
      heapTotalBytes: usage.heapTotal,
      externalBytes: usage.external,
      opsPerSec,
    });
  };

  await sample(0);
  const begin = performance.now();
  while (started < totalOps) {
    const chunkStart = performance.now();
    const before = started;
    await runChunk(Math.min(totalOps, started + sampleEvery));
    const opsPerSec = (started - before) / ((performance.now() - chunkStart) / 1000);
    await sample(opsPerSec);
  }
  const seconds = (performance.now() - begin) / 1000;

  let metricsCounted: number | undefined;
  if (registry) {
    const counter = registry.getSingleMetric(
      `${REDIS_CACHE_DEFAULTS.metricsPrefix}operations_total`,
    );
    if (!counter) throw new Error('No operations counter in the registry');
    const { values } = await counter.get();
    metricsCounted = values.reduce((sum, { value }) => sum + value, 0);
  }
  client.disconnect();
  const cpu = process.cpuUsage();
  const result: MemoryWorkerResult = {
    variant,
    ops: started,
    hits,
    misses,
    sets,
    errors,
    ...(metricsCounted !== undefined && { metricsCounted }),
    seconds,
    cpuMs: (cpu.user + cpu.system) / 1000,
    series,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
