// getOrSet's stampede protection against a real Redis: single flight in one process, the Redis
// lock across two processes, XFetch's early refresh, and failing open.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CacheValueTooLargeError, InvalidCacheValueError, RedisCache } from '../src';
import type { ContextualCache, RedisCacheSettings } from '../src';
import { buildInto } from './support/build';
import { RedisServerProcess } from './support/redis-server';
import { sleep, uniqueId } from './support/unique';

/** A loader that counts its calls in Redis (so two processes share the count) and takes `ms`. */
function countingLoader(raw: Redis, counter: string, value: string, ms = 200) {
  return async () => {
    await raw.incr(counter);
    await sleep(ms);
    return value;
  };
}

describe('getOrSet stampede protection', () => {
  let server: RedisServerProcess;
  let raw: Redis;
  const clients: Redis[] = [];
  const caches: RedisCache[] = [];

  async function cacheWith(settings: RedisCacheSettings): Promise<RedisCache> {
    const client = new Redis(server.url);
    await client.ping();
    clients.push(client);
    const cache = await RedisCache.fromClient(client, { operationTimeoutMs: 1000, ...settings });
    caches.push(cache);
    return cache;
  }

  beforeAll(async () => {
    // The fail-open case logs its warnings; what it asserts is the values and the timing.
    Logger.overrideLogger(false);
    server = await RedisServerProcess.start();
    raw = new Redis(server.url);
  });

  afterAll(async () => {
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
    await Promise.all(caches.map((cache) => cache.close()));
    for (const client of [...clients, raw]) client.disconnect();
    await server.dispose();
  });

  describe('in one process', () => {
    let ctx: ContextualCache;
    beforeAll(async () => {
      ctx = (await cacheWith({})).withContext('weather', uniqueId('device'));
    });

    it('runs the loader once for 50 concurrent callers, caches its value and serves hits after', async () => {
      const counter = uniqueId('loads');
      const loader = countingLoader(raw, counter, 'sunny');
      const results = await Promise.all(
        Array.from({ length: 50 }, () => ctx.getOrSet('forecast', loader, 60)),
      );
      expect(results.every((value) => value.toString() === 'sunny')).toBe(true);
      expect(await raw.get(counter)).toBe('1');
      expect(await raw.getBuffer(ctx.keyFor('forecast'))).toEqual(Buffer.from('sunny'));
      const ttl = await raw.ttl(ctx.keyFor('forecast'));
      expect(ttl).toBeGreaterThan(55);
      expect((await ctx.getOrSet('forecast', loader)).toString()).toBe('sunny');
      expect(await raw.get(counter)).toBe('1');
    });

    it('keeps keys apart: concurrent callers of two keys run two loads', async () => {
      const counter = uniqueId('loads');
      await Promise.all([
        ctx.getOrSet('a', countingLoader(raw, counter, 'A')),
        ctx.getOrSet('a', countingLoader(raw, counter, 'A')),
        ctx.getOrSet('b', countingLoader(raw, counter, 'B')),
      ]);
      expect(await raw.get(counter)).toBe('2');
    });

    it('rejects every waiting caller with the loader error, caches nothing, and loads again next time', async () => {
      let calls = 0;
      const failing = async () => {
        calls++;
        await sleep(50);
        throw new Error('upstream down');
      };
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, () => ctx.getOrSet('broken', failing)),
      );
      expect(outcomes.every((outcome) => outcome.status === 'rejected')).toBe(true);
      expect(calls).toBe(1);
      expect(await raw.exists(ctx.keyFor('broken'))).toBe(0);
      await expect(ctx.getOrSet('broken', () => 'fixed')).resolves.toEqual(Buffer.from('fixed'));
    });

    it('stores Buffers byte for byte and takes synchronous loaders', async () => {
      const bytes = Buffer.from([0, 0xff, 0xc3, 0x28, 10]);
      await expect(ctx.getOrSet('bytes', () => bytes)).resolves.toEqual(bytes);
      expect(await raw.getBuffer(ctx.keyFor('bytes'))).toEqual(bytes);
    });

    it('refuses what a loader returns when it cannot be cached, naming the problem', async () => {
      const notBytes = () => 42 as unknown as string;
      await expect(ctx.getOrSet('number', notBytes)).rejects.toThrow(InvalidCacheValueError);
      await expect(ctx.getOrSet('number', notBytes)).rejects.toThrow(
        'getOrSet("number"): the loader must resolve a string or a Buffer, got number; nothing was cached.',
      );
      const small = (await cacheWith({ maxValueBytes: 8 })).withContext('weather', 'tiny');
      await expect(small.getOrSet('big', () => 'x'.repeat(9))).rejects.toThrow(
        CacheValueTooLargeError,
      );
      expect(await raw.exists(small.keyFor('big'))).toBe(0);
    });

    it('getOrSetJson stores JSON and parses hits', async () => {
      let loads = 0;
      const loader = () => {
        loads++;
        return { temperature: 21, unit: 'C' };
      };
      await expect(ctx.getOrSetJson('json', loader)).resolves.toEqual({
        temperature: 21,
        unit: 'C',
      });
      await expect(ctx.getOrSetJson('json', loader)).resolves.toEqual({
        temperature: 21,
        unit: 'C',
      });
      expect(loads).toBe(1);
      expect(await raw.get(ctx.keyFor('json'))).toBe('{"temperature":21,"unit":"C"}');
    });
  });

  describe('with the Redis lock', () => {
    it('waits for the holder: a caller that finds the lock taken gets the holder value without loading', async () => {
      const holder = (await cacheWith({ stampede: { lock: true } })).withContext(
        'w',
        uniqueId('d'),
      );
      const waiter = (await cacheWith({ stampede: { lock: true } })).withContext(
        holder.appId,
        holder.deviceId,
      );
      const counter = uniqueId('loads');
      const first = holder.getOrSet('k', countingLoader(raw, counter, 'from holder', 300));
      await sleep(50);
      expect(await raw.exists(`lock:${holder.keyFor('k')}`)).toBe(1);
      const second = await waiter.getOrSet('k', countingLoader(raw, counter, 'from waiter'));
      expect(second.toString()).toBe('from holder');
      expect((await first).toString()).toBe('from holder');
      expect(await raw.get(counter)).toBe('1');
      // Released by its owner once the value is stored.
      expect(await raw.exists(`lock:${holder.keyFor('k')}`)).toBe(0);
    });

    it('loads anyway after lockWaitMs when the holder never stores a value', async () => {
      const ctx = (
        await cacheWith({ stampede: { lock: true, lockWaitMs: 300, lockTtlMs: 10_000 } })
      ).withContext('w', uniqueId('d'));
      await raw.set(`lock:${ctx.keyFor('k')}`, 'someone else', 'PX', 10_000);
      const started = performance.now();
      const value = await ctx.getOrSet('k', () => 'mine');
      const waited = performance.now() - started;
      expect(value.toString()).toBe('mine');
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(2000);
      // Not ours: left alone.
      expect(await raw.get(`lock:${ctx.keyFor('k')}`)).toBe('someone else');
    });

    it('takes over a lock released without a value (the holder loader failed)', async () => {
      const ctx = (await cacheWith({ stampede: { lock: true, lockWaitMs: 5_000 } })).withContext(
        'w',
        uniqueId('d'),
      );
      const lockKey = `lock:${ctx.keyFor('k')}`;
      await raw.set(lockKey, 'failing holder', 'PX', 10_000);
      setTimeout(() => void raw.del(lockKey), 200);
      const started = performance.now();
      expect((await ctx.getOrSet('k', () => 'taken over')).toString()).toBe('taken over');
      expect(performance.now() - started).toBeLessThan(1500);
    });

    it('causes one load for 20 concurrent callers in each of two processes', async () => {
      const outDir = buildInto('stampede');
      const worker = join(outDir, 'stampede-worker.js');
      writeFileSync(worker, WORKER_SOURCE);
      const children: ChildProcess[] = [];
      try {
        const deviceId = uniqueId('d');
        const run = async (lock: boolean) => {
          const counter = uniqueId('loads');
          const args = [server.url, deviceId, counter, String(lock), uniqueId('key')];
          const procs = [fork(worker, args), fork(worker, args)];
          children.push(...procs);
          const ready = procs.map((child) => new Promise((done) => child.once('message', done)));
          await Promise.all(ready);
          const results = procs.map(
            (child) =>
              new Promise<string[]>((done) =>
                child.once('message', (message) => done(message as string[])),
              ),
          );
          for (const child of procs) child.send('go');
          const values = (await Promise.all(results)).flat();
          return { values, loads: Number(await raw.get(counter)) };
        };

        const locked = await run(true);
        expect(locked.values).toHaveLength(40);
        expect(new Set(locked.values).size).toBe(1);
        expect(locked.loads).toBe(1);

        // The control: without the lock each process loads once (its own single flight).
        const unlocked = await run(false);
        expect(unlocked.values).toHaveLength(40);
        expect(unlocked.loads).toBe(2);
      } finally {
        for (const child of children) child.kill();
        rmSync(outDir, { recursive: true, force: true });
      }
    }, 120_000);
  });

  describe('early refresh (XFetch)', () => {
    it('recomputes a hot key before it expires, in the background, while callers get the cached value', async () => {
      const ctx = (
        await cacheWith({ stampede: { earlyRefresh: true, earlyRefreshBeta: 4 } })
      ).withContext('w', uniqueId('d'));
      let version = 0;
      const loader = async () => {
        version++;
        await sleep(250);
        return `v${version}`;
      };
      expect((await ctx.getOrSet('hot', loader, 2)).toString()).toBe('v1');
      expect(Number(await raw.get(`recompute-ms:${ctx.keyFor('hot')}`))).toBeGreaterThanOrEqual(
        240,
      );
      // Read it hot until just before it would expire: with beta 4 and delta 250 ms a refresh is
      // near certain in the last second, and no caller ever waits for the loader.
      const seen = new Set<string>();
      const deadline = performance.now() + 1900;
      let slowest = 0;
      while (performance.now() < deadline) {
        const started = performance.now();
        seen.add((await ctx.getOrSet('hot', loader, 2)).toString());
        slowest = Math.max(slowest, performance.now() - started);
        await sleep(20);
      }
      await sleep(400);
      expect(version).toBeGreaterThanOrEqual(2);
      expect(seen.has('v1')).toBe(true);
      expect(slowest).toBeLessThan(200);
      // Refreshed before expiry: the key never went missing and lives on with a new TTL.
      expect(await raw.get(ctx.keyFor('hot'))).toBe(`v${version}`);
      expect(await raw.pttl(ctx.keyFor('hot'))).toBeGreaterThan(1000);
    });

    it('does not refresh a fresh key early', async () => {
      const ctx = (await cacheWith({ stampede: { earlyRefresh: true } })).withContext(
        'w',
        uniqueId('d'),
      );
      let loads = 0;
      const loader = () => {
        loads++;
        return 'v';
      };
      await ctx.getOrSet('cold', loader, 3600);
      for (let i = 0; i < 200; i++) await ctx.getOrSet('cold', loader, 3600);
      await sleep(50);
      expect(loads).toBe(1);
    });

    it('keeps its side keys out of stats, flushes and the cache key shape', async () => {
      const ctx = (await cacheWith({ stampede: { earlyRefresh: true, lock: true } })).withContext(
        'w',
        uniqueId('d'),
      );
      await ctx.getOrSet('k', () => 'v');
      expect(await raw.exists(`recompute-ms:${ctx.keyFor('k')}`)).toBe(1);
      expect(await ctx.stats()).toBe(1);
      expect(await ctx.flushDevice()).toBe(1);
    });
  });

  describe('when Redis fails', () => {
    it('runs the loader and returns its value (fail open), with the lock and early refresh on', async () => {
      const own = await RedisServerProcess.start();
      const client = new Redis(own.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      client.on('error', () => undefined);
      // Resolves once the client is ready (and on its database).
      const cache = await RedisCache.fromClient(client, {
        operationTimeoutMs: 100,
        stampede: { lock: true, earlyRefresh: true },
      });
      try {
        expect(client.status).toBe('ready');
        const ctx = cache.withContext('w', 'd');
        own.freeze();
        const started = performance.now();
        let loads = 0;
        const values = await Promise.all(
          Array.from({ length: 5 }, () =>
            // Slow enough that every caller's failed read ends while the one load still runs.
            ctx.getOrSet('k', async () => {
              loads++;
              await sleep(300);
              return 'computed';
            }),
          ),
        );
        expect(values.map(String)).toEqual(Array(5).fill('computed'));
        expect(loads).toBe(1);
        expect(performance.now() - started).toBeLessThan(2000);
        await own.stop();
        await expect(ctx.getOrSet('k', () => 'while stopped')).resolves.toEqual(
          Buffer.from('while stopped'),
        );
      } finally {
        own.thaw();
        await cache.close();
        client.disconnect();
        await own.dispose();
      }
    });
  });
});

/**
 * A second process: its own cache on its own connection, 20 concurrent getOrSet calls once the
 * test says go; the loader counts its calls in Redis. Plain JS, run against the built module.
 */
const WORKER_SOURCE = `
const { Redis } = require('ioredis');
const { RedisCache } = require('./redis-cache');
const [url, deviceId, counter, lock, key] = process.argv.slice(2);
const client = new Redis(url);
const raw = new Redis(url);
const caching = RedisCache.fromClient(client, {
  operationTimeoutMs: 1000,
  stampede: { lock: lock === 'true', lockWaitMs: 5000 },
});
const loader = async () => {
  await raw.incr(counter);
  await new Promise((resolve) => setTimeout(resolve, 300));
  return 'value from pid ' + process.pid;
};
let ctx;
Promise.all([caching, raw.ping()]).then(([cache]) => {
  ctx = cache.withContext('stampede', deviceId);
  process.send('ready');
});
process.on('message', async () => {
  const values = await Promise.all(Array.from({ length: 20 }, () => ctx.getOrSet(key, loader, 60)));
  process.send(values.map(String), () => {
    client.disconnect();
    raw.disconnect();
    process.exit(0);
  });
});
`;
