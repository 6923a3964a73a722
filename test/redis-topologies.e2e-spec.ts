// The module on a Redis Cluster and behind Sentinel, each started by the test from redis-server:
// keys spread over every master, flushes and counts that see them all, and failovers during which
// the cache fails open and after which it resumes by itself.
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Cluster } from 'ioredis';
import { RedisCache, RedisCacheModule } from '../src';
import type { ContextualCache, RedisCacheModuleOptions } from '../src';
import { Registry } from 'prom-client';
import { KEY_COUNT_LEASE_KEY } from '../src/metrics/key-count-refresher';
import { REDIS_CACHE_CLIENT } from '../src/redis-cache.constants';
import { INDEX_COMPLETE_KEY } from '../src/stores/namespace-index';
import { RedisClusterProcess } from './support/redis-cluster';
import { withRedis } from './support/redis-process';
import { RedisSentinelSet } from './support/redis-sentinel';
import { valueOf } from './support/registry-values';
import { sleep, uniqueId } from './support/unique';

const OPERATION_TIMEOUT_MS = 300;
const HOOK_TIMEOUT_MS = 60_000;
// A shared 2-core machine: bounds catch a cache that hangs or never comes back, not noise.
const RESUME_BOUND_MS = 15_000;

async function startModule(options: RedisCacheModuleOptions): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      RedisCacheModule.forRoot({
        operationTimeoutMs: OPERATION_TIMEOUT_MS,
        startupWaitMs: 10_000,
        metrics: { enabled: false },
        ...options,
      }),
    ],
  }).compile();
  moduleRef.useLogger(false);
  return moduleRef;
}

/** Polls `check` until it holds; resolves how long that took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < ms) {
    if (await check()) return performance.now() - started;
    await sleep(100);
  }
  throw new Error(`not within ${ms} ms`);
}

/** A write then a read that hits: caching works end to end. */
async function cachingWorks(ctx: ContextualCache): Promise<boolean> {
  const value = uniqueId('v');
  await ctx.set('probe', value);
  const lookup = await ctx.get('probe');
  return lookup.found && lookup.value.toString() === value;
}

/** Every get and set of `work` settles (never rejects) within `boundMs` each. */
async function failsOpen(ctx: ContextualCache, rounds: number, boundMs: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await expect(ctx.get(`k${i}`)).resolves.toBeDefined();
    await expect(ctx.set(`k${i}`, 'v')).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(boundMs);
  }
}

describe('on a Redis Cluster (3 masters, 3 replicas)', () => {
  let cluster: RedisClusterProcess;
  let moduleRef: TestingModule;
  let cache: RedisCache;

  beforeAll(async () => {
    cluster = await RedisClusterProcess.start({ masters: 3, replicasPerMaster: 1 });
    moduleRef = await startModule({
      cluster: { nodes: cluster.nodes.map(({ host, port }) => `${host}:${port}`) },
    });
    cache = moduleRef.get(RedisCache);
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await moduleRef?.close();
    await cluster?.dispose();
  }, HOOK_TIMEOUT_MS);

  /** Keys matching `pattern` on every master, read directly (KEYS is fine on a test's own cluster). */
  const keysOnMasters = async (pattern: string) => {
    const counts = await Promise.all(
      cluster
        .masters()
        .map((port) => withRedis(port, async (redis) => (await redis.keys(pattern)).length)),
    );
    return counts.reduce((a, b) => a + b, 0);
  };

  const masterSizes = () =>
    Promise.all(cluster.masters().map((port) => withRedis(port, (redis) => redis.dbsize())));

  it('uses an ioredis Cluster and spreads one device keys over every master', async () => {
    expect(moduleRef.get(REDIS_CACHE_CLIENT)).toBeInstanceOf(Cluster);
    expect(cache.storeDescription).toMatch(/^cluster:\/\/(127\.0\.0\.1:\d+,?){3}$/);
    const before = await masterSizes();
    const device = uniqueId('spread');
    const ctx = cache.withContext('clock', device);
    for (let i = 0; i < 150; i++) await ctx.set(`k${i}`, `v${i}`);
    const grown = (await masterSizes()).map((size, i) => size - before[i]);
    expect(grown.every((keys) => keys > 0)).toBe(true);
    expect(grown.reduce((a, b) => a + b, 0)).toBe(150);
    expect((await ctx.get('k42')).value?.toString()).toBe('v42');
  });

  it('counts and flushes across all masters exactly, without CROSSSLOT errors', async () => {
    const device = uniqueId('dev');
    const neighbour = `${device}x`;
    const apps = ['clock', 'weather', 'news'];
    for (const app of apps) {
      const ctx = cache.withContext(app, device);
      const other = cache.withContext(app, neighbour);
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          Promise.all([ctx.set(`k${i}`, 'v'), other.set(`k${i}`, 'v')]),
        ),
      );
    }
    const clock = cache.withContext('clock', device);
    expect(await clock.stats()).toBe(200);
    expect(await clock.flushApp()).toBe(200);
    expect(await clock.stats()).toBe(0);
    expect(await cache.withContext('weather', device).stats()).toBe(200);
    // The other two apps of the device, on every master, and nothing of the neighbour.
    expect(await clock.flushDevice()).toBe(400);
    for (const app of apps) {
      expect(await cache.withContext(app, device).stats()).toBe(0);
      expect(await cache.withContext(app, neighbour).stats()).toBe(200);
    }
    expect(cache.errorCounts()).toEqual({});
  });

  it('counts keys by app across every master, exactly and from random keys, under one lease', async () => {
    const device = uniqueId('counted');
    const weather = cache.withContext('weather', device);
    await Promise.all(Array.from({ length: 3_000 }, (_, i) => weather.set(`k${i}`, 'v')));
    const truth = await keysOnMasters('/weather/*');
    const total = (await masterSizes()).reduce((a, b) => a + b, 0);
    const countWith = async (keyCountSamples: number) => {
      const registry = new Registry();
      const counting = await startModule({
        cluster: { nodes: cluster.nodes.map(({ host, port }) => `${host}:${port}`) },
        metrics: { registry, apps: ['weather'], keyCountIntervalMs: 60_000, keyCountSamples },
      });
      const app = counting.createNestApplication({ logger: false });
      try {
        await app.init();
        await within(
          10_000,
          async () => (await valueOf(registry, 'matrx_cache_key_counts_total')) === 1,
        );
        return await valueOf(registry, 'matrx_cache_keys', { app: 'weather' });
      } finally {
        await app.close();
        // The next count is this test's own: free the lease the closed instance still holds.
        await moduleRef.get<Cluster>(REDIS_CACHE_CLIENT).del(KEY_COUNT_LEASE_KEY);
      }
    };
    expect(await countWith(0)).toBe(truth);
    const samples = 2_000;
    const share = truth / total;
    const bound = 4 * Math.sqrt((share * (1 - share)) / samples) * total;
    expect(Math.abs((await countWith(samples)) - truth)).toBeLessThanOrEqual(bound);
  });

  it('flushes and counts through the namespace index across every master, exactly, without SCAN', async () => {
    const indexed = await startModule({
      cluster: { nodes: cluster.nodes.map(({ host, port }) => `${host}:${port}`) },
      namespaceIndex: true,
    });
    try {
      const cache = indexed.get(RedisCache);
      const device = uniqueId('indexed');
      const neighbour = `${device}x`;
      // Every key written after the existing ones are indexed goes through the index alone.
      await within(
        10_000,
        async () =>
          (await moduleRef.get<Cluster>(REDIS_CACHE_CLIENT).exists(INDEX_COMPLETE_KEY)) === 1,
      );
      for (const app of ['clock', 'weather']) {
        for (const id of [device, neighbour]) {
          const ctx = cache.withContext(app, id);
          await Promise.all(Array.from({ length: 300 }, (_, i) => ctx.set(`k${i}`, 'v')));
        }
      }
      const scans = async () => {
        const stats = await Promise.all(
          cluster.masters().map((port) => withRedis(port, (redis) => redis.info('commandstats'))),
        );
        return stats
          .map((text) => Number(/cmdstat_scan:calls=(\d+)/.exec(text)?.[1] ?? 0))
          .reduce((a, b) => a + b, 0);
      };
      // An index key listed in the directory but never written (a writer that stopped between
      // the two): it counts nothing and stops nothing.
      await moduleRef
        .get<Cluster>(REDIS_CACHE_CLIENT)
        .sadd(`apps-of:/${device}`, `keys-of:{0}/clock/${device}`);
      const scansBefore = await scans();
      const clock = cache.withContext('clock', device);
      expect(await clock.stats()).toBe(300);
      expect(await clock.flushApp()).toBe(300);
      expect(await clock.stats()).toBe(0);
      expect(await cache.withContext('weather', device).stats()).toBe(300);
      expect(await clock.flushDevice()).toBe(300);
      for (const app of ['clock', 'weather']) {
        expect(await cache.withContext(app, device).stats()).toBe(0);
        expect(await cache.withContext(app, neighbour).stats()).toBe(300);
      }
      expect(await keysOnMasters(`/*/${device}/*`)).toBe(0);
      expect(await keysOnMasters(`/*/${neighbour}/*`)).toBe(600);
      expect(await scans()).toBe(scansBefore);
      expect(cache.errorCounts()).toEqual({});
    } finally {
      await indexed.close();
    }
  });

  it('pings every master, not one node', async () => {
    const pings = () =>
      Promise.all(
        cluster.masters().map((port) =>
          withRedis(port, async (redis) => {
            const stats = await redis.info('commandstats');
            return Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0);
          }),
        ),
      );
    const before = await pings();
    await expect(cache.ping()).resolves.toBeGreaterThan(0);
    const after = await pings();
    expect(after.map((calls, i) => calls - before[i])).toEqual(before.map(() => 1));
  });

  it('fails open while a master fails over, then resumes; a restarted node rejoins', async () => {
    const ctx = cache.withContext('failover', uniqueId('dev'));
    await within(RESUME_BOUND_MS, () => cachingWorks(ctx));
    const victim = await cluster.masterForKey(ctx.keyFor('probe'));
    await cluster.kill(victim);

    // During the failover: no call throws, none waits for long.
    await failsOpen(ctx, 10, OPERATION_TIMEOUT_MS * 5 + 1000);
    await cluster.waitForFailover(victim);
    const resumedMs = await within(RESUME_BOUND_MS, () => cachingWorks(ctx));
    expect(resumedMs).toBeLessThan(RESUME_BOUND_MS);

    await cluster.restart(victim);
    await cluster.waitForClusterOk();
    expect(await cachingWorks(ctx)).toBe(true);
    // Writes during the failover reached the masters that stayed up: count what Redis holds.
    const held = await keysOnMasters(`/failover/${ctx.deviceId}/*`);
    expect(held).toBeGreaterThanOrEqual(1);
    expect(await ctx.stats()).toBe(held);
    expect(await ctx.flushDevice()).toBe(held);
    expect(await keysOnMasters(`/failover/${ctx.deviceId}/*`)).toBe(0);
  }, 90_000);

  it('fails open while a master is frozen, and caches again once the cluster has moved on', async () => {
    const ctx = cache.withContext('frozen', uniqueId('dev'));
    await within(RESUME_BOUND_MS, () => cachingWorks(ctx));
    const victim = await cluster.masterForKey(ctx.keyFor('probe'));
    cluster.freeze(victim);
    try {
      // A command sent to the frozen master never gets an answer: the store's deadline ends it.
      await failsOpen(ctx, 10, OPERATION_TIMEOUT_MS * 5 + 1000);
      await cluster.waitForFailover(victim);
      await within(RESUME_BOUND_MS, () => cachingWorks(ctx));
    } finally {
      cluster.thaw(victim);
    }
    await cluster.waitForClusterOk();
    expect(await cachingWorks(ctx)).toBe(true);
  }, 90_000);
});

describe('behind Sentinel (a master, a replica, three sentinels)', () => {
  let sentinels: RedisSentinelSet;
  let moduleRef: TestingModule;
  let cache: RedisCache;

  beforeAll(async () => {
    sentinels = await RedisSentinelSet.start();
    moduleRef = await startModule({
      sentinels: sentinels.sentinels.map(({ host, port }) => `${host}:${port}`),
      name: sentinels.name,
    });
    cache = moduleRef.get(RedisCache);
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await moduleRef?.close();
    await sentinels?.dispose();
  }, HOOK_TIMEOUT_MS);

  it('finds the master through the sentinels and caches on it', async () => {
    expect(cache.storeDescription).toMatch(
      /^sentinel:\/\/(127\.0\.0\.1:\d+,?){3}\/harness-primary\/0$/,
    );
    const ctx = cache.withContext('clock', uniqueId('dev'));
    await ctx.set('k', 'on the master');
    const master = await sentinels.masterPort();
    expect(await withRedis(master, (redis) => redis.get(ctx.keyFor('k')))).toBe('on the master');
  });

  it('fails open while Sentinel promotes the replica, then caches on the new master', async () => {
    const ctx = cache.withContext('failover', uniqueId('dev'));
    expect(await cachingWorks(ctx)).toBe(true);
    const oldMaster = await sentinels.killMaster();

    await failsOpen(ctx, 10, OPERATION_TIMEOUT_MS * 5 + 1000);
    const newMaster = await sentinels.waitForPromotion(oldMaster);
    expect(newMaster).not.toBe(oldMaster);
    const resumedMs = await within(RESUME_BOUND_MS, () => cachingWorks(ctx));
    expect(resumedMs).toBeLessThan(RESUME_BOUND_MS);
    const value = await withRedis(newMaster, (redis) => redis.get(ctx.keyFor('probe')));
    expect(value).not.toBeNull();
    expect(await ctx.stats()).toBeGreaterThanOrEqual(1);

    // The old master comes back (as a replica, unless the sentinels failed over to it again, which
    // a starved machine makes them do: then the cache fails open until it finds the new master);
    // caching goes on, on whichever node is the master.
    await sentinels.restartOldMaster();
    expect(await within(RESUME_BOUND_MS, () => cachingWorks(ctx))).toBeLessThan(RESUME_BOUND_MS);
    expect(await ctx.flushDevice()).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
