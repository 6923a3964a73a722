// The background key counts (keys{app}, database_keys): counted once per interval by whichever
// instance holds the lease in Redis, shown by every instance; exact (SCAN) or sampled (RANDOMKEY).
// Each test starts its own redis-server: they count whole databases and stop servers.
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { Logger } from '@nestjs/common';
import { RedisCache, RedisCacheModule } from '../src';
import {
  AUTO_SAMPLES,
  KEY_COUNT_LEASE_KEY,
  KeyCountRefresher,
} from '../src/metrics/key-count-refresher';
import { RedisStore } from '../src/stores/redis.store';
import type { RedisCacheModuleOptions } from '../src';
import { pollUntil } from './support/poll';
import { valueOf } from './support/registry-values';
import { RedisServerProcess } from './support/redis-server';
import { sleep } from './support/unique';

interface Instance {
  moduleRef: TestingModule;
  registry: Registry;
  close: () => Promise<void>;
}

/** One service instance: the module with a registry of its own, its background counts started. */
async function startInstance(
  options: RedisCacheModuleOptions,
  metrics: RedisCacheModuleOptions['metrics'] = {},
): Promise<Instance> {
  const registry = new Registry();
  const moduleRef = await Test.createTestingModule({
    imports: [RedisCacheModule.forRoot({ ...options, metrics: { registry, ...metrics } })],
  }).compile();
  moduleRef.useLogger(false);
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return { moduleRef, registry, close: () => app.close() };
}

/** How many SCAN commands the server has run since its start (or the last CONFIG RESETSTAT). */
async function scansRun(raw: Redis): Promise<number> {
  const stats = await raw.info('commandstats');
  return Number(/cmdstat_scan:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

describe('key counts', () => {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function ownServer(): Promise<{ server: RedisServerProcess; raw: Redis }> {
    const server = await RedisServerProcess.start();
    const raw = new Redis(server.url);
    closers.push(() => server.dispose());
    closers.push(() => Promise.resolve(raw.disconnect()));
    return { server, raw };
  }

  async function instance(
    options: RedisCacheModuleOptions,
    metrics?: RedisCacheModuleOptions['metrics'],
  ): Promise<Instance> {
    const started = await startInstance(options, metrics);
    closers.push(started.close);
    return started;
  }

  it.each(['redis', 'memory'] as const)(
    'counts keys per allowed app, the rest as other, and the database, in the background (%s)',
    async (store) => {
      const own = store === 'redis' ? await ownServer() : undefined;
      const { moduleRef, registry } = await instance(
        own ? { url: own.server.url } : { store: 'memory' },
        { apps: ['clock', 'banner'], keyCountIntervalMs: 100 },
      );
      const redisCache = moduleRef.get(RedisCache);
      for (const device of ['d1', 'd2', 'd3'])
        await redisCache.withContext('clock', device).set('k', 'v');
      await redisCache.withContext('banner', 'd1').set('k', 'v');
      await redisCache.withContext('weather', 'd1').set('a', 'v');
      await redisCache.withContext('*', 'd1').set('b', 'v');
      await own?.raw.set('not-a-cache-key', 'x');
      const keys = (appLabel: string) => valueOf(registry, 'matrx_cache_keys', { app: appLabel });
      await pollUntil(async () => {
        expect(await keys('clock')).toBe(3);
        expect(await keys('banner')).toBe(1);
        expect(await keys('other')).toBe(2);
        // Every key, the counts' own lease and shared figures included.
        expect(await valueOf(registry, 'matrx_cache_database_keys')).toBe(own ? 9 : 8);
      });
      // Device ids never become labels; only the allowlist and "other" do.
      const { values } = await registry.getSingleMetric('matrx_cache_keys')!.get();
      expect(values.map(({ labels }) => labels.app).sort()).toEqual(['banner', 'clock', 'other']);
      expect(await valueOf(registry, 'matrx_cache_key_count_duration_seconds')).toBeGreaterThan(0);
      // A small database: 'auto' counted it exactly.
      expect(await valueOf(registry, 'matrx_cache_key_count_samples')).toBe(0);
      const age = await valueOf(registry, 'matrx_cache_key_count_age_seconds');
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(5);
    },
  );

  it('counts a failure and keeps the last figures while Redis is down', async () => {
    const { server } = await ownServer();
    const { moduleRef, registry } = await instance(
      { url: server.url },
      { apps: ['clock'], keyCountIntervalMs: 100 },
    );
    await moduleRef.get(RedisCache).withContext('clock', 'd1').set('k', 'v');
    const keys = () => valueOf(registry, 'matrx_cache_keys', { app: 'clock' });
    const failures = () => valueOf(registry, 'matrx_cache_key_count_failures_total');
    await pollUntil(async () => expect(await keys()).toBe(1));
    await server.stop();
    await pollUntil(async () => expect(await failures()).toBeGreaterThan(0));
    expect(await keys()).toBe(1);
  });

  it('counts once per interval however many instances run, and every instance shows the figures', async () => {
    const { server, raw } = await ownServer();
    const intervalMs = 300;
    const instances = await Promise.all(
      [1, 2, 3, 4].map(() =>
        instance({ url: server.url }, { apps: ['clock'], keyCountIntervalMs: intervalMs }),
      ),
    );
    const cache = instances[0].moduleRef.get(RedisCache);
    for (const device of ['d1', 'd2', 'd3', 'd4', 'd5'])
      await cache.withContext('clock', device).set('k', 'v');
    await raw.config('RESETSTAT');
    const started = Date.now();
    await sleep(8 * intervalMs);
    const elapsed = Date.now() - started;
    // Each count of this small database is one SCAN. Four instances each counting would be 4 per
    // interval; one lease allows one per interval (and one more for a count under way at the ends).
    const scans = await scansRun(raw);
    expect(scans).toBeGreaterThanOrEqual(Math.floor(elapsed / intervalMs) - 2);
    expect(scans).toBeLessThanOrEqual(Math.ceil(elapsed / intervalMs) + 1);
    const countsRun = await Promise.all(
      instances.map(({ registry }) => valueOf(registry, 'matrx_cache_key_counts_total')),
    );
    expect(countsRun.filter((count) => count > 0).length).toBeGreaterThanOrEqual(1);
    for (const { registry } of instances) {
      expect(await valueOf(registry, 'matrx_cache_keys', { app: 'clock' })).toBe(5);
    }
  });

  it('lets another instance count when the one holding the lease stops', async () => {
    const { server } = await ownServer();
    const intervalMs = 200;
    const options = { url: server.url };
    const metrics = { apps: ['clock'], keyCountIntervalMs: intervalMs };
    const first = await startInstance(options, metrics);
    const second = await instance(options, metrics);
    closers.push(() => first.close().catch(() => undefined));
    const countsOf = ({ registry }: Instance) => valueOf(registry, 'matrx_cache_key_counts_total');
    await pollUntil(async () => expect((await countsOf(first)) + (await countsOf(second))).toBe(2));
    const [holder, other] = (await countsOf(first)) > 0 ? [first, second] : [second, first];
    expect(await countsOf(other)).toBe(0);
    await holder.close();
    // Within about two intervals: the lease runs out, then the other's next tick takes it.
    await pollUntil(async () => expect(await countsOf(other)).toBeGreaterThan(0), 5 * intervalMs);
  });

  it('estimates from random keys with keyCountSamples, within the stated error', async () => {
    const { server, raw } = await ownServer();
    const sizes = { clock: 12_000, banner: 6_000, weather: 2_000 };
    const pipeline = raw.pipeline();
    for (const [app, size] of Object.entries(sizes)) {
      for (let i = 0; i < size; i++) pipeline.set(`/${app}/device-${i}/k`, 'v');
    }
    for (let i = 0; i < 2_000; i++) pipeline.set(`not-a-cache-key-${i}`, 'v');
    await pipeline.exec();
    await raw.config('RESETSTAT');
    const samples = 4_000;
    const { registry } = await instance(
      { url: server.url },
      { apps: ['clock', 'banner'], keyCountIntervalMs: 60_000, keyCountSamples: samples },
    );
    const total = 22_000;
    await pollUntil(async () =>
      expect(await valueOf(registry, 'matrx_cache_key_counts_total')).toBe(1),
    );
    for (const [label, truth] of [
      ['clock', sizes.clock],
      ['banner', sizes.banner],
      ['other', sizes.weather],
    ] as const) {
      const share = truth / total;
      // Four standard errors of a sampled share: a false alarm about once in 16,000 runs.
      const bound = 4 * Math.sqrt((share * (1 - share)) / samples) * total;
      const estimate = await valueOf(registry, 'matrx_cache_keys', { app: label });
      expect(Math.abs(estimate - truth)).toBeLessThanOrEqual(bound);
    }
    expect(await valueOf(registry, 'matrx_cache_key_count_samples')).toBe(samples);
    // It sampled rather than scanned: about `samples` RANDOMKEYs, no SCAN.
    const stats = await raw.info('commandstats');
    expect(stats).not.toContain('cmdstat_scan');
    const drawn = Number(/cmdstat_randomkey:calls=(\d+)/.exec(stats)?.[1]);
    expect(drawn).toBeGreaterThanOrEqual(samples);
    expect(drawn).toBeLessThanOrEqual(samples + 1);
  });

  it("samples once the database is past the exact-count limit with keyCountSamples: 'auto'", async () => {
    const { server, raw } = await ownServer();
    const pipeline = raw.pipeline();
    for (let i = 0; i < 2_000; i++) pipeline.set(`/clock/device-${i}/k`, 'v');
    await pipeline.exec();
    const store = await RedisStore.open(
      new Redis(server.url),
      { operationTimeoutMs: 1000, ownsClient: true, logger: new Logger('test') },
      1000,
    );
    closers.push(() => store.close());
    const registry = new Registry();
    const settings = { registry, prefix: 'auto_', apps: new Set(['clock']), intervalMs: 60_000 };
    const counted = async (exactUpTo: number) => {
      await raw.del(KEY_COUNT_LEASE_KEY);
      await raw.config('RESETSTAT');
      const refresher = new KeyCountRefresher(
        store,
        { ...settings, samples: 'auto', exactUpTo },
        new Logger('test'),
      );
      await refresher.refresh();
      return raw.info('commandstats');
    };
    expect(await counted(5_000)).toContain('cmdstat_scan');
    expect(await valueOf(registry, 'auto_key_count_samples')).toBe(0);
    expect(await valueOf(registry, 'auto_keys', { app: 'clock' })).toBe(2_000);
    const sampled = await counted(1_000);
    expect(sampled).not.toContain('cmdstat_scan');
    expect(sampled).toContain(`cmdstat_randomkey:calls=${AUTO_SAMPLES},`);
    expect(await valueOf(registry, 'auto_key_count_samples')).toBe(AUTO_SAMPLES);
  });
});
