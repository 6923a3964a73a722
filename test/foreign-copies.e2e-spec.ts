// An application's own copies of ioredis and prom-client: a client or registry made by another copy
// of the package is not an `instanceof` this module's copy, and must work all the same. Jest's
// isolated module registry loads a second, independent copy of each package.
import { Test } from '@nestjs/testing';
import type * as IORedis from 'ioredis';
import type * as PromClient from 'prom-client';
import { Cluster, Redis } from 'ioredis';
import { Counter, Gauge, Registry } from 'prom-client';
import { RedisCache, RedisCacheModule } from '../src';
import { isMetricOfType } from '../src/metrics/metric-type';
import { isClusterClient } from '../src/stores/redis-client.factory';
import { redisForSuite } from './support/redis-target';
import { uniqueId } from './support/unique';

function secondCopyOf<T>(name: string): T {
  let copy: T | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh copy needs require inside isolateModules
    copy = require(name) as T;
  });
  return copy as T;
}

const otherIORedis = secondCopyOf<typeof IORedis>('ioredis');
const otherPromClient = secondCopyOf<typeof PromClient>('prom-client');

describe('packages the application loaded itself', () => {
  const redis = redisForSuite();

  it('are really other copies (else this suite would prove nothing)', () => {
    expect(otherIORedis.Redis).not.toBe(Redis);
    expect(new otherIORedis.Redis({ lazyConnect: true })).not.toBeInstanceOf(Redis);
    expect(new otherPromClient.Registry()).not.toBeInstanceOf(Registry);
  });

  it('tells a cluster client from a single-server one by ioredis’s own flag', () => {
    const cluster = new otherIORedis.Cluster([{ host: '127.0.0.1', port: 1 }], {
      lazyConnect: true,
    });
    const single = new otherIORedis.Redis({ lazyConnect: true });
    expect(cluster).not.toBeInstanceOf(Cluster);
    expect(isClusterClient(cluster)).toBe(true);
    expect(isClusterClient(single)).toBe(false);
    single.disconnect();
    cluster.disconnect();
  });

  it('accepts their client and registry, caches through the client and counts in the registry', async () => {
    const client = new otherIORedis.Redis(redis.url);
    const registry = new otherPromClient.Registry();
    const moduleRef = await Test.createTestingModule({
      imports: [
        RedisCacheModule.forRoot({
          client: client,
          metrics: { registry: registry, keyCountIntervalMs: 0 },
        }),
      ],
    }).compile();
    try {
      const device = uniqueId('device');
      const cache = moduleRef.get(RedisCache).withContext('app', device);
      await cache.set('k', 'v');
      expect((await cache.get('k')).value?.toString()).toBe('v');
      expect(await redis.raw.get(`/app/${device}/k`)).toBe('v');
      const text = await registry.metrics();
      expect(text).toMatch(
        /matrx_cache_operations_total\{[^}]*operation="get"[^}]*result="hit"[^}]*\} 1/,
      );
    } finally {
      await moduleRef.close();
      client.disconnect();
    }
  });

  const startWith = (registry: PromClient.Registry) =>
    Test.createTestingModule({
      imports: [
        RedisCacheModule.forRoot({
          store: 'memory',
          metrics: { registry: registry, keyCountIntervalMs: 0 },
        }),
      ],
    }).compile();

  it('takes a metric made by another copy of prom-client for one of its type, and only its type', () => {
    const registers: PromClient.Registry[] = [];
    const gauge = new otherPromClient.Gauge({ name: 'g', help: 'g', registers });
    const counter = new otherPromClient.Counter({ name: 'c', help: 'c', registers });
    expect(gauge).not.toBeInstanceOf(Gauge);
    expect(isMetricOfType(gauge, Gauge)).toBe(true);
    expect(isMetricOfType(counter, Counter)).toBe(true);
    expect(isMetricOfType(counter, Gauge)).toBe(false);
  });

  it('refuses a metric of the same name and another type, naming it', async () => {
    const registry = new otherPromClient.Registry();
    new otherPromClient.Gauge({
      name: 'matrx_cache_operations_total',
      help: 'x',
      registers: [registry],
    });
    await expect(startWith(registry)).rejects.toThrow(
      /matrx_cache_operations_total of another type/,
    );
  });
});
