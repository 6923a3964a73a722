// Namespace operations on huge namespaces in bounded time: progress after each step, jobs that
// answer at once and go on in the background, followed from another instance on the same Redis,
// and what a failed or abandoned job reports. Each test starts its own redis-server (they stop it,
// freeze it and fill it).
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CacheUnavailableError, RedisCache } from '../src';
import type { CacheJobStatus, RedisCacheSettings } from '../src';
import { CacheFailureHandler } from '../src/cache-failure.handler';
import { CACHE_JOB_KEY_PREFIX, CACHE_JOB_TIMING, CacheJobs } from '../src/jobs/cache-jobs';
import { RedisStore } from '../src/stores/redis.store';
import { pollUntil } from './support/poll';
import { redisPerTest } from './support/redis-per-test';
import { sleep } from './support/unique';

const DEVICE = 'device-7f3a91';

describe('namespace operations as jobs', () => {
  const redis = redisPerTest({ operationTimeoutMs: 2000 });
  const openCache = (settings?: RedisCacheSettings) => redis.openCache(settings);

  /** `count` keys of the device under app `clock`, and `others` keys of other devices. */
  async function fill(count: number, others: number): Promise<void> {
    const pipeline = redis.raw.pipeline();
    for (let i = 0; i < count; i++) pipeline.set(`/clock/${DEVICE}/k${i}`, 'v', 'EX', 600);
    for (let i = 0; i < others; i++) pipeline.set(`/clock/other-${i}/k`, 'v', 'EX', 600);
    await pipeline.exec();
  }

  const waitForEnd = (cache: RedisCache, id: string) =>
    pollUntil(async () => {
      const status = await cache.jobs.status(id);
      expect(status?.state).not.toBe('running');
      expect(status).toBeDefined();
    }, 30_000);

  it.each<[string, RedisCacheSettings]>([
    ['SCAN', {}],
    ['the namespace index', { namespaceIndex: true }],
  ])('reports progress after each step of a flush and a count (%s)', async (_, settings) => {
    const cache = await openCache(settings);
    const device = cache.withContext('clock', DEVICE);
    if (settings.namespaceIndex) {
      await pollUntil(async () => expect(await redis.raw.exists('keys-of:complete')).toBe(1));
      await Promise.all(Array.from({ length: 5000 }, (_, i) => device.set(`k${i}`, 'v')));
      await fill(0, 20_000);
    } else {
      await fill(5000, 20_000);
    }
    const counted: number[] = [];
    expect(await device.stats({ onProgress: (keys) => counted.push(keys) })).toBe(5000);
    const deleted: number[] = [];
    expect(await device.flushDevice({ onProgress: (keys) => deleted.push(keys) })).toBe(5000);

    for (const seen of [counted, deleted]) {
      expect(seen.length).toBeGreaterThan(2);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(seen.at(-1)).toBe(5000);
    }
  });

  it('a listener that throws does not break the operation', async () => {
    const cache = await openCache();
    await fill(3000, 5000);
    const device = cache.withContext('clock', DEVICE);
    const deleted = await device.flushApp({
      onProgress: () => {
        throw new Error('listener bug');
      },
    });
    expect(deleted).toBe(3000);
    expect(await redis.raw.exists(`/clock/${DEVICE}/k0`)).toBe(0);
  });

  it('answers at once with a running job that another instance follows to its result', async () => {
    await fill(20_000, 200_000);
    const [runner, follower] = await Promise.all([openCache(), openCache()]);

    const job = await runner.jobs.run(runner.withContext('clock', DEVICE), 'flushDevice', {
      waitMs: 0,
    });
    // Answered before the flush (a SCAN of 220,000 keys) could end: no timing bound needed.
    expect(job).toMatchObject({ operation: 'flushDevice', state: 'running' });

    // Another instance sees the job running with its progress, then its result.
    const seen: CacheJobStatus[] = [];
    await pollUntil(async () => {
      const status = await follower.jobs.status(job.id);
      if (status) seen.push(status);
      expect(status?.state).toBe('done');
    }, 30_000);
    expect(seen[0].state).toBe('running');
    const done = seen.at(-1)!;
    expect(done).toMatchObject({ id: job.id, operation: 'flushDevice', keys: 20_000 });
    expect(Date.parse(done.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(done.startedAt));
    expect(await redis.raw.exists(`/clock/${DEVICE}/k0`)).toBe(0);
    expect(await redis.raw.dbsize()).toBe(200_000 + 1); // the others and the job's record
    expect(await redis.raw.ttl(CACHE_JOB_KEY_PREFIX + job.id)).toBeGreaterThan(3000);
    // The record holds no device id.
    expect(await redis.raw.get(CACHE_JOB_KEY_PREFIX + job.id)).not.toContain(DEVICE);
  });

  it('answers with the result when the operation ends within the wait, and records it too', async () => {
    await fill(100, 1000);
    const [cache, other] = await Promise.all([openCache(), openCache()]);
    const job = await cache.jobs.run(cache.withContext('clock', DEVICE), 'stats');
    expect(job).toMatchObject({ state: 'done', keys: 100, operation: 'stats' });
    // Every id it hands out can be polled, here and on another instance.
    expect(await cache.jobs.status(job.id)).toMatchObject({ state: 'done', keys: 100 });
    await pollUntil(async () =>
      expect(await other.jobs.status(job.id)).toMatchObject({ state: 'done', keys: 100 }),
    );
  });

  it('joins a running job of the same operation on the same namespace', async () => {
    await fill(20_000, 200_000);
    const cache = await openCache();
    const device = () => cache.withContext('clock', DEVICE);
    const first = await cache.jobs.run(device(), 'flushDevice', { waitMs: 0 });
    const again = await cache.jobs.run(cache.withContext('weather', DEVICE), 'flushDevice', {
      waitMs: 0,
    });
    const other = await cache.jobs.run(device(), 'stats', { waitMs: 0 });
    expect(again.id).toBe(first.id);
    expect(other.id).not.toBe(first.id);
    // The last caller waits for it and gets its result.
    const joined = await cache.jobs.run(device(), 'flushDevice', { waitMs: 30_000 });
    expect(joined).toMatchObject({ id: first.id, state: 'done', keys: 20_000 });
  });

  it('rejects as the operation does when it fails within the wait', async () => {
    const cache = await openCache({ operationTimeoutMs: 200 });
    await redis.server.stop();
    const job = cache.jobs.run(cache.withContext('clock', DEVICE), 'flushApp', { waitMs: 5000 });
    await expect(job).rejects.toBeInstanceOf(CacheUnavailableError);
  });

  it('reports a failure after the wait as failed, saying why without the device id', async () => {
    await fill(20_000, 200_000);
    const [runner, follower] = await Promise.all([
      openCache({ operationTimeoutMs: 100 }),
      openCache(),
    ]);
    const job = await runner.jobs.run(runner.withContext('clock', DEVICE), 'flushDevice', {
      waitMs: 0,
    });
    // Redis freezes for 1.5 s: the flush's next step misses its deadline (1 s for bulk steps).
    redis.server.freeze();
    await sleep(1500);
    redis.server.thaw();

    await waitForEnd(follower, job.id);
    const failed = (await follower.jobs.status(job.id))!;
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/Cache flush_device failed \((timeout|connection)\)/);
    expect(failed.error).not.toContain(DEVICE);
    expect(failed.keys).toBeLessThan(20_000);
  });

  it('marks its running jobs abandoned when it shuts down', async () => {
    await fill(20_000, 200_000);
    const [runner, follower] = await Promise.all([openCache(), openCache()]);
    const job = await runner.jobs.run(runner.withContext('clock', DEVICE), 'flushDevice', {
      waitMs: 0,
    });
    await runner.close();
    const status = await follower.jobs.status(job.id);
    expect(status).toMatchObject({
      state: 'abandoned',
      error: 'The instance running it shut down.',
    });
    // Its heartbeat stopped with it, and it takes no new jobs.
    await sleep(2500);
    expect(await follower.jobs.status(job.id)).toEqual(status);
    await expect(runner.jobs.run(runner.withContext('clock', DEVICE), 'stats')).rejects.toThrow(
      'CacheJobs.run: the cache is closed (the app is shutting down).',
    );
  });

  it('reports a job abandoned once its instance has been silent too long', async () => {
    await fill(20_000, 200_000);
    // Two instances with a short heartbeat; the runner loses Redis mid-job, as a crashed one would.
    const timing = { heartbeatMs: 50, abandonedAfterMs: 400, keepSeconds: 60 };
    const logger = new Logger('test');
    const instance = async () => {
      const client = new Redis(redis.server.url);
      const storeOptions = { operationTimeoutMs: 2000, ownsClient: true, logger };
      const store = await RedisStore.open(client, storeOptions, 2000);
      redis.closeAfter(() => store.close());
      const jobs = new CacheJobs(store, new CacheFailureHandler(true, logger), logger, timing);
      return { client, jobs, cache: new RedisCache(store) };
    };
    const [runner, follower] = await Promise.all([instance(), instance()]);
    const device = runner.cache.withContext('clock', DEVICE);
    const job = await runner.jobs.run(device, 'flushDevice', { waitMs: 0 });
    await pollUntil(async () =>
      expect((await follower.jobs.status(job.id))?.state).toBe('running'),
    );

    runner.client.disconnect();
    await pollUntil(async () => {
      const status = await follower.jobs.status(job.id);
      expect(status?.state).toBe('abandoned');
      expect(status?.error).toMatch(/has not reported for \d+ s/);
    }, 10_000);
  });

  it('tells a live job from an abandoned one by the store’s clock (the record’s TTL), not by the instances’ clocks', async () => {
    const cache = await openCache();
    // Records as an instance whose clock is an hour behind, and one whose clock is an hour ahead.
    const hourMs = 3_600_000;
    const record = (id: string, updatedMs: number) =>
      JSON.stringify({
        id,
        operation: 'flushDevice',
        state: 'running',
        keys: 10,
        startedAt: new Date(updatedMs - 1000).toISOString(),
        updatedAt: new Date(updatedMs).toISOString(),
      });
    const live = '0b6e2c1a-1111-4a4a-8b8b-000000000001';
    const silent = '0b6e2c1a-2222-4a4a-8b8b-000000000002';
    // A report stores a running record for 2 hours: one just stored, and one stored 200 s ago.
    const running = CACHE_JOB_TIMING.keepSeconds * 2;
    const hourBehind = record(live, Date.now() - hourMs);
    const hourAhead = record(silent, Date.now() + hourMs);
    await redis.raw.set(CACHE_JOB_KEY_PREFIX + live, hourBehind, 'EX', running);
    await redis.raw.set(CACHE_JOB_KEY_PREFIX + silent, hourAhead, 'EX', running - 200);

    expect(await cache.jobs.status(live)).toMatchObject({ state: 'running', keys: 10 });
    expect(await cache.jobs.status(silent)).toMatchObject({ state: 'abandoned', keys: 10 });
  });

  it('names what was wrong with its arguments, and knows no malformed id', async () => {
    const cache = await openCache();
    const device = cache.withContext('clock', DEVICE);
    await expect(cache.jobs.run(device, 'flushAll' as 'flushApp')).rejects.toThrow(
      'CacheJobs.run: operation must be one of stats, flushApp, flushDevice, got "flushAll".',
    );
    await expect(cache.jobs.run(device, 'stats', { waitMs: -1 })).rejects.toThrow(
      'CacheJobs.run: waitMs must be a number of milliseconds from 0 to 2147483647, got -1.',
    );
    // Past what a timer holds, Node would fire it at once: refused instead.
    await expect(cache.jobs.run(device, 'stats', { waitMs: 2 ** 31 })).rejects.toThrow(
      'got 2147483648',
    );
    await redis.raw.set('cache-jobs:../x', '{}');
    expect(await cache.jobs.status('../x')).toBeUndefined();
    expect(await cache.jobs.status('00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });

  it('runs jobs on the embedded memory store too', async () => {
    const cache = RedisCache.inMemory();
    redis.closeAfter(() => cache.close());
    const device = cache.withContext('clock', DEVICE);
    await device.set('a', '1');
    await device.set('b', '2');
    // Its steps never wait for I/O: the job has ended before run answers, even with no wait.
    expect(await cache.jobs.run(device, 'flushDevice', { waitMs: 0 })).toMatchObject({
      state: 'done',
      keys: 2,
    });
    expect(await device.stats()).toBe(0);
  });
});
