// The memory benchmark's worker, run by memory/run.ts with --expose-gc: --ops cache operations of
// the mix in variants.ts, --concurrency in flight, in chunks of --sample-every; after each chunk
// the in-flight operations finish, GC runs twice and process.memoryUsage() is recorded.
// Prints `RESULT {json}` (a MemoryWorkerResult).
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { RedisCache } from '../../src';
import { PrometheusCacheMetrics } from '../../src/metrics/prometheus-cache-metrics';
import { REDIS_CACHE_DEFAULTS } from '../../src/redis-cache.options';
import { RedisStore } from '../../src/stores/redis.store';
import { Args } from '../support/args';
import { BENCH_VALUE } from '../support/redis';
import { formatInt, toMiB } from '../support/stats';
import * as mix from './variants';
import type { MemorySample, MemoryVariant, MemoryWorkerResult } from './variants';

/** A variant: a get (resolving whether it hit), a set, and the metrics registry if it keeps one. */
interface Target {
  get(app: string, device: string, key: string): Promise<boolean>;
  set(app: string, device: string, key: string): Promise<void>;
  registry?: Registry;
}

function contextualCache(client: Redis): Target {
  const registry = new Registry();
  const store = new RedisStore(client, {
    operationTimeoutMs: REDIS_CACHE_DEFAULTS.operationTimeoutMs,
    ownsClient: false,
    logger: new Logger('RedisCache'),
  });
  const observer = new PrometheusCacheMetrics(registry, REDIS_CACHE_DEFAULTS.metricsPrefix);
  const cache = new RedisCache(store, undefined, { observer });
  // A fresh ContextualCache per operation, as per request.
  return {
    registry,
    get: async (app, device, key) => (await cache.withContext(app, device).get(key)).found,
    set: (app, device, key) =>
      cache.withContext(app, device).set(key, BENCH_VALUE, mix.VALUE_TTL_SECONDS),
  };
}

function rawIoredis(client: Redis): Target {
  return {
    get: async (app, device, key) => (await client.getBuffer(`/${app}/${device}/${key}`)) !== null,
    set: async (app, device, key) => {
      await client.set(`/${app}/${device}/${key}`, BENCH_VALUE, 'EX', mix.VALUE_TTL_SECONDS);
    },
  };
}

/** Writes every key sets write, so gets hit about half the time from the start. */
async function writeSetKeys(client: Redis, apps: string[], devices: string[], keys: string[]) {
  for (const app of apps) {
    const pipeline = client.pipeline();
    for (const device of devices) {
      for (const key of keys.slice(0, mix.SET_KEYS)) {
        pipeline.set(`/${app}/${device}/${key}`, BENCH_VALUE, 'EX', mix.VALUE_TTL_SECONDS);
      }
    }
    await pipeline.exec();
  }
}

/** The operations the cache's own metrics counted, over all their label sets. */
async function operationsCounted(registry: Registry): Promise<number> {
  const counter = registry.getSingleMetric(`${REDIS_CACHE_DEFAULTS.metricsPrefix}operations_total`);
  if (!counter) throw new Error('No operations counter in the registry');
  const { values } = await counter.get();
  return values.reduce((sum, { value }) => sum + value, 0);
}

const names = (count: number, name: (index: number) => string) =>
  Array.from({ length: count }, (_, i) => name(i));
const pick = <T>(items: readonly T[], count = items.length) =>
  items[Math.floor(Math.random() * count)];

const TARGETS: Record<MemoryVariant, (client: Redis) => Target> = {
  'contextual-cache': contextualCache,
  'raw-ioredis': rawIoredis,
};

async function main(): Promise<void> {
  const args = new Args([], ['variant', 'redis', 'tag', 'ops', 'sample-every', 'concurrency']);
  const variant = args.required('variant') as MemoryVariant;
  if (!mix.MEMORY_VARIANTS.includes(variant)) throw new Error(`Unknown --variant ${variant}`);
  const tag = args.required('tag');
  const totalOps = args.number('ops', 1_000_000);
  const sampleEvery = args.number('sample-every', 100_000);
  const concurrency = args.number('concurrency', 64);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('Run the worker with --expose-gc');

  const client = new Redis(args.required('redis'), { lazyConnect: true });
  await client.connect();
  const apps = names(mix.APPS, (i) => mix.appName(tag, i));
  const devices = names(mix.DEVICES, (i) => `dev${i}`);
  const keys = names(mix.GET_KEYS, (i) => `k${i}`);
  const target = TARGETS[variant](client);
  // In its own frame: the pipeline and its replies are garbage before the first sample.
  await writeSetKeys(client, apps, devices, keys);

  const counts = { ops: 0, hits: 0, misses: 0, sets: 0, errors: 0 };
  const operation = async () => {
    const isGet = Math.random() < mix.GET_SHARE;
    const app = pick(apps);
    const device = pick(devices);
    const key = pick(keys, isGet ? mix.GET_KEYS : mix.SET_KEYS);
    if (!isGet) {
      counts.sets++;
      await target.set(app, device, key);
      return;
    }
    if (await target.get(app, device, key)) counts.hits++;
    else counts.misses++;
  };
  /** `concurrency` loops start operations until `until` have started; all have finished after. */
  const runUntil = async (until: number) => {
    const loop = async () => {
      while (counts.ops < until) {
        counts.ops++;
        await operation().catch(() => counts.errors++);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
  };

  const series: MemorySample[] = [];
  const sample = async (opsPerSec: number) => {
    // A scrape, as Prometheus would do: part of what metrics cost over time.
    await target.registry?.metrics();
    gc();
    gc();
    const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
    series.push({
      ops: counts.ops,
      rssBytes: rss,
      heapUsedBytes: heapUsed,
      heapTotalBytes: heapTotal,
      externalBytes: external,
      opsPerSec,
    });
    // Progress on stderr (the orchestrator's terminal), once the sample is taken.
    const rate = opsPerSec > 0 ? `  ${formatInt(opsPerSec)} ops/s` : '';
    console.error(
      `${variant.padEnd(17)} ${formatInt(counts.ops).padStart(9)} ops  RSS ${toMiB(rss).toFixed(1).padStart(6)} MiB  heapUsed ${toMiB(heapUsed).toFixed(2).padStart(6)} MiB${rate}`,
    );
  };

  await sample(0);
  const begin = performance.now();
  while (counts.ops < totalOps) {
    const chunkStart = performance.now();
    const before = counts.ops;
    await runUntil(Math.min(totalOps, counts.ops + sampleEvery));
    await sample((counts.ops - before) / ((performance.now() - chunkStart) / 1000));
  }
  const seconds = (performance.now() - begin) / 1000;
  const metricsCounted = target.registry && (await operationsCounted(target.registry));
  const { ops, hits, misses, errors } = counts;
  // The whole mix must have run, every operation counted by the cache's own metrics.
  if (errors > 0 || hits === 0 || misses === 0 || (metricsCounted ?? ops) !== ops) {
    throw new Error(
      `${variant}: ${errors} errors, ${hits} hits, ${misses} misses, ${metricsCounted ?? '-'} of ${ops} counted by metrics: the mix did not run as meant`,
    );
  }
  client.disconnect();
  const cpu = process.cpuUsage();
  const result: MemoryWorkerResult = {
    variant,
    ...counts,
    ...(metricsCounted !== undefined && { metricsCounted }),
    seconds,
    cpuMs: (cpu.user + cpu.system) / 1000,
    series,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
