// The namespace index (namespaceIndex: true): flushes and counts that read only the namespace's
// own keys, exact through expiry, eviction and deletes behind the cache's back, and keys written
// without the index (before an upgrade, or by the Go service) still found. Each test starts its
// own redis-server: they restart it, count its commands and write databases of their own.
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RedisCache } from '../src';
import type { RedisCacheSettings } from '../src';
import {
  INDEX_COMPLETE_KEY,
  INDEX_DISTRUSTED_KEY,
  INDEX_MIGRATION_LEASE_KEY,
  INDEX_RESET_KEY,
} from '../src/stores/namespace-index';
import { KeyCountRefresher } from '../src/metrics/key-count-refresher';
import { Registry } from 'prom-client';
import { RedisStore } from '../src/stores/redis.store';
import { captureLogs } from './support/capture-logger';
import { pollUntil } from './support/poll';
import { redisPerTest } from './support/redis-per-test';
import { RedisServerProcess } from './support/redis-server';
import { sleep } from './support/unique';

const INDEXED: RedisCacheSettings = { namespaceIndex: true, operationTimeoutMs: 2000 };

/** Calls of each command the server has run since the last CONFIG RESETSTAT. */
async function commandCalls(raw: Redis): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const [, name, count] of (await raw.info('commandstats')).matchAll(
    /cmdstat_([a-z|]+):calls=(\d+)/g,
  )) {
    calls[name] = Number(count);
  }
  return calls;
}

describe('the namespace index', () => {
  const redis = redisPerTest();
  const openCache = (settings: RedisCacheSettings = INDEXED) => redis.openCache(settings);

  /** A store with the index, once the (empty) database is marked indexed. */
  async function openIndexedStore(): Promise<RedisStore> {
    const client = new Redis(redis.server.url);
    const options = { operationTimeoutMs: 2000, ownsClient: true, indexNamespaces: true };
    const store = await RedisStore.open(client, { ...options, logger: new Logger('test') }, 2000);
    redis.closeAfter(() => store.close());
    await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
    return store;
  }

  /** Writes `count` keys of one namespace through the cache. */
  async function fill(cache: RedisCache, app: string, device: string, count: number, ttl = 600) {
    const ctx = cache.withContext(app, device);
    await Promise.all(Array.from({ length: count }, (_, i) => ctx.set(`k${i}`, `v${i}`, ttl)));
  }

  it('flushes and counts only the namespace’s keys, exactly, without scanning the database', async () => {
    const cache = await openCache();
    await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
    await fill(cache, 'clock', 'd1', 300);
    await fill(cache, 'weather', 'd1', 200);
    await fill(cache, 'clock', 'd2', 100);
    // Other data: 20,000 keys the flushes and counts must not have to look at.
    const pipeline = redis.raw.pipeline();
    for (let i = 0; i < 20_000; i++) pipeline.set(`/other/device-${i}/k`, 'v', 'EX', 600);
    await pipeline.exec();
    await redis.raw.config('RESETSTAT');

    const d1 = cache.withContext('clock', 'd1');
    expect(await d1.stats()).toBe(300);
    expect(await d1.flushApp()).toBe(300);
    expect(await d1.stats()).toBe(0);
    expect(await cache.withContext('weather', 'd1').stats()).toBe(200);
    expect(await d1.flushDevice()).toBe(200);
    expect(await cache.withContext('weather', 'd1').stats()).toBe(0);
    expect(await cache.withContext('clock', 'd2').stats()).toBe(100);
    expect(await redis.raw.dbsize()).toBe(20_000 + 100 + 3); // d2's keys, its index, d2's directory, the marker

    const calls = await commandCalls(redis.raw);
    expect(calls.scan).toBeUndefined();
    expect(calls.keys).toBeUndefined();
    // What is left of d1's index: nothing.
    expect(await redis.raw.exists('keys-of:/clock/d1', 'keys-of:/weather/d1', 'apps-of:/d1')).toBe(
      0,
    );
  });

  it('counts exactly through expiry and deletes behind its back, and never below zero', async () => {
    const cache = await openCache();
    await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
    const ctx = cache.withContext('clock', 'd1');
    await fill(cache, 'clock', 'd1', 50, 1);
    await Promise.all(Array.from({ length: 30 }, (_, i) => ctx.set(`long${i}`, 'v', 600)));
    expect(await ctx.stats()).toBe(80);
    await sleep(1_100);
    expect(await ctx.stats()).toBe(30);
    // Evicted, or deleted by another client: counted out at the next count.
    await redis.raw.del('/clock/d1/long0', '/clock/d1/long1');
    expect(await ctx.stats()).toBe(28);
    expect(await ctx.delete('long2')).toBe(true);
    expect(await ctx.delete('long2')).toBe(false);
    expect(await ctx.stats()).toBe(27);
    expect(await ctx.flushApp()).toBe(27);
    expect(await ctx.stats()).toBe(0);
    expect(await ctx.flushApp()).toBe(0);
  });

  it('finds keys written without the index: SCAN until they are indexed, then the index', async () => {
    // Written before an upgrade, or by the Go service: plain SETs, no index.
    const pipeline = redis.raw.pipeline();
    for (let i = 0; i < 500; i++) pipeline.set(`/clock/legacy/k${i}`, 'v', 'EX', 600);
    pipeline.set('/clock/legacy/forever', 'v');
    await pipeline.exec();
    const cache = await openCache();
    const ctx = cache.withContext('clock', 'legacy');
    // Before or after the indexing of existing keys, the answer is the same.
    expect(await ctx.stats()).toBe(501);
    await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
    // The lease is let go just after the marker is set.
    await pollUntil(async () => expect(await redis.raw.exists(INDEX_MIGRATION_LEASE_KEY)).toBe(0));
    await redis.raw.config('RESETSTAT');
    expect(await ctx.stats()).toBe(501);
    await ctx.set('new', 'v');
    expect(await ctx.flushDevice()).toBe(502);
    expect(await redis.raw.dbsize()).toBe(1); // the marker
    expect((await commandCalls(redis.raw)).scan).toBeUndefined();
  });

  it('notices another writer that does not index, and indexes its keys again, at most hourly', async () => {
    const client = new Redis(redis.server.url);
    const logs = captureLogs();
    try {
      const store = await RedisStore.open(
        client,
        {
          operationTimeoutMs: 2000,
          ownsClient: true,
          logger: new Logger('test'),
          indexNamespaces: true,
        },
        2000,
      );
      redis.closeAfter(() => store.close());
      const cache = new RedisCache(store);
      const ctx = cache.withContext('clock', 'mixed');
      await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
      await Promise.all(Array.from({ length: 200 }, (_, i) => ctx.set(`k${i}`, 'v', 600)));
      expect(await store.indexed!.audit()).toBe(0);

      // The Go service writes beside it: new keys, and one of ours again with a longer TTL.
      const pipeline = redis.raw.pipeline();
      for (let i = 0; i < 200; i++) pipeline.set(`/clock/mixed/go${i}`, 'v', 'EX', 600);
      pipeline.set('/clock/mixed/k0', 'go', 'EX', 7200);
      await pipeline.exec();
      // The index holds 200 of the 400 keys (and its k0 would expire before the key).
      expect(await ctx.stats()).toBe(200);

      // About half the keys are the Go service's: 100 random keys find some.
      expect(await store.indexed!.audit()).toBeGreaterThan(0);
      expect(logs.text()).toMatch(/random keys are cache keys the namespace index does not hold/);
      expect(logs.text()).toContain('Flushes and counts SCAN until they are indexed again.');
      expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(0);
      // SCAN meanwhile, and the fleet indexes them again.
      expect(await ctx.stats()).toBe(400);
      await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
      expect(await store.indexed!.audit()).toBe(0);
      await redis.raw.config('RESETSTAT');
      expect(await ctx.stats()).toBe(400);
      expect((await commandCalls(redis.raw)).scan).toBeUndefined();
      // k0's entry now lives as long as the key the Go service rewrote (2 h, not 10 minutes).
      const k0ExpiresAt = Number(await redis.raw.zscore('keys-of:/clock/mixed', 'k0'));
      expect(k0ExpiresAt).toBeGreaterThan(Date.now() + 3_600_000);

      // Found again within the hour: flushes and counts SCAN until it is over, nothing re-indexed.
      for (let i = 0; i < 400; i++) await redis.raw.set(`/clock/mixed/later${i}`, 'v', 'EX', 600);
      expect(await store.indexed!.audit()).toBeGreaterThan(0);
      expect(logs.text()).toContain('They were indexed again less than an hour ago');
      expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1);
      expect(await redis.raw.pttl(INDEX_DISTRUSTED_KEY)).toBeGreaterThan(3_500_000);
      await redis.raw.config('RESETSTAT');
      expect(await ctx.stats()).toBe(800);
      expect(await ctx.flushApp()).toBe(800);
      expect((await commandCalls(redis.raw)).scan).toBeGreaterThan(0);
      expect(await redis.raw.exists(INDEX_MIGRATION_LEASE_KEY)).toBe(0);
    } finally {
      logs.restore();
      client.disconnect();
    }
  });

  it('audits a key written without an expiry, once indexed, as indexed', async () => {
    const store = await openIndexedStore();
    // The only cache key of the database (beside the marker): about half the random keys drawn.
    await redis.raw.set('/clock/solo/forever', 'v');
    expect(await store.indexed!.audit()).toBeGreaterThan(10);
    await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
    // Indexed as never expiring: still its own entry a while later (the check once said otherwise).
    await sleep(1500);
    expect(await store.indexed!.audit()).toBe(0);
    expect(await store.indexed!.countNamespace({ appId: 'clock', deviceId: 'solo' })).toBe(1);
  });

  it('is audited by the fleet-wide key count', async () => {
    const store = await openIndexedStore();
    const pipeline = redis.raw.pipeline();
    for (let i = 0; i < 500; i++) pipeline.set(`/clock/go/k${i}`, 'v', 'EX', 600);
    await pipeline.exec();
    const settings = {
      registry: new Registry(),
      prefix: 'audit_',
      apps: new Set<string>(),
      intervalMs: 60_000,
      samples: 0,
    };
    await new KeyCountRefresher(store, settings, new Logger('test')).refresh();
    expect(await redis.raw.exists(INDEX_RESET_KEY)).toBe(1);
    await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
    expect(await redis.raw.zcard('keys-of:/clock/go')).toBe(500);
  });

  it('indexes the existing keys once, on one instance', async () => {
    const pipeline = redis.raw.pipeline();
    for (let i = 0; i < 3_000; i++) pipeline.set(`/clock/d${i % 30}/k${i}`, 'v', 'EX', 600);
    await pipeline.exec();
    const stores = await Promise.all(
      [1, 2, 3].map(async () => {
        const client = new Redis(redis.server.url);
        const store = new RedisStore(client, {
          operationTimeoutMs: 2000,
          ownsClient: true,
          logger: new Logger('test'),
          indexNamespaces: true,
        });
        redis.closeAfter(() => store.close());
        await client.ping();
        return store;
      }),
    );
    const indexed = await Promise.all(stores.map((store) => store.indexed!.indexExistingKeys()));
    expect(indexed.sort((a, b) => a - b)).toEqual([0, 0, 3_000]);
    expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1);
    expect(await redis.raw.zcard('keys-of:/clock/d7')).toBe(100);
  });

  it('falls back to SCAN after Redis restarts empty, and indexes again', async () => {
    const cache = await openCache();
    await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
    await fill(cache, 'clock', 'd1', 10);
    await redis.server.restart(); // the plain client reconnects by itself
    const ctx = cache.withContext('clock', 'd1');
    await pollUntil(async () => expect(await cache.ping()).toBeGreaterThanOrEqual(0), 10_000);
    // Written by something else while the marker is gone: found all the same.
    await redis.raw.set('/clock/d1/legacy', 'v', 'EX', 600);
    await pollUntil(async () => expect(await ctx.stats()).toBe(1), 10_000);
    await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
    await fill(cache, 'clock', 'd1', 5);
    expect(await ctx.stats()).toBe(6);
    expect(await ctx.flushDevice()).toBe(6);
  });

  it('does not trust an index completed on other servers (a master restarted or replaced)', async () => {
    const cache = await openCache();
    await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
    const runId = /run_id:(\S+)/.exec(await redis.raw.info('server'))![1];
    expect(await redis.raw.get(INDEX_COMPLETE_KEY)).toBe(runId);
    // As if the marker had outlived index keys lost with a server: keys it does not know of.
    await redis.raw.set(INDEX_COMPLETE_KEY, 'another-run-id');
    await redis.raw.set('/clock/d1/unindexed', 'v', 'EX', 600);
    const ctx = cache.withContext('clock', 'd1');
    expect(await ctx.stats()).toBe(1);
    await pollUntil(async () => expect(await redis.raw.get(INDEX_COMPLETE_KEY)).toBe(runId));
    expect(await ctx.flushDevice()).toBe(1);
  });

  it('leaves nothing behind when keys expire while a flush runs', async () => {
    const cache = await openCache();
    await pollUntil(async () => expect(await redis.raw.exists(INDEX_COMPLETE_KEY)).toBe(1));
    await fill(cache, 'clock', 'd1', 5_000, 1);
    await sleep(950);
    const flushed = await cache.withContext('clock', 'd1').flushApp();
    expect(flushed).toBeGreaterThanOrEqual(0);
    expect(flushed).toBeLessThanOrEqual(5_000);
    expect(await cache.withContext('clock', 'd1').stats()).toBe(0);
    expect(await redis.raw.keys('/clock/d1/*')).toEqual([]);
    expect(await redis.raw.exists('keys-of:/clock/d1', 'apps-of:/d1')).toBe(0);
  });

  it('SCANs instead when Redis may evict keys (an evicted index would hide keys), and says so', async () => {
    const evicting = await RedisServerProcess.start([
      '--maxmemory',
      '100mb',
      '--maxmemory-policy',
      'allkeys-lru',
    ]);
    const logs = captureLogs();
    const client = new Redis(evicting.url);
    const evictingRaw = new Redis(evicting.url);
    try {
      const cache = await RedisCache.fromClient(client, INDEXED);
      const ctx = cache.withContext('clock', 'd1');
      await fill(cache, 'clock', 'd1', 20);
      // The index cannot be trusted here: gone, it would make stats say 0.
      await evictingRaw.del('keys-of:/clock/d1');
      await evictingRaw.config('RESETSTAT');
      expect(await ctx.stats()).toBe(20);
      expect(await ctx.flushApp()).toBe(20);
      expect((await commandCalls(evictingRaw)).scan).toBeGreaterThan(0);
      expect(logs.text()).toContain('may evict keys (maxmemory-policy allkeys-lru)');
      await cache.close();
    } finally {
      logs.restore();
      client.disconnect();
      evictingRaw.disconnect();
      await evicting.dispose();
    }
  });
});
