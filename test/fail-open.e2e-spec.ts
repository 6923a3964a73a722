import type { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { CacheUnavailableError, REDIS_CACHE_CLIENT, RedisCache, RedisCacheModule } from '../src';
import type { RedisCacheModuleOptions } from '../src';
import { captureLogs } from './support/capture-logger';
import { RedisServerProcess, freePort } from './support/redis-server';
import { sleep, uniqueId } from './support/unique';

const TIMEOUT_MS = 200;
// Timer and event-loop slack on a busy 2-core machine; the bound under test is TIMEOUT_MS.
const SLACK_MS = 150;

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

/** Polls until `check` passes; resolves how long that took. */
async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < withinMs) {
    if (await check()) return performance.now() - started;
    await sleep(50);
  }
  throw new Error(`condition not met within ${withinMs} ms`);
}

async function startModule(
  options: RedisCacheModuleOptions,
  logger?: LoggerService,
): Promise<TestingModule> {
  const builder = Test.createTestingModule({
    imports: [RedisCacheModule.forRoot({ operationTimeoutMs: TIMEOUT_MS, ...options })],
  });
  if (logger) builder.setLogger(logger);
  return builder.compile();
}

/** Whether a write then read through the cache hits: caching works end to end. */
async function cachingWorks(cache: RedisCache): Promise<boolean> {
  const ctx = cache.withContext('probe', 'dev');
  await ctx.set('k', 'v');
  return (await ctx.get('k')).found;
}

describe('failing open on a real redis-server', () => {
  let server: RedisServerProcess;
  let moduleRef: TestingModule;
  let cache: RedisCache;
  let client: Redis;

  beforeEach(async () => {
    server = await RedisServerProcess.start();
    moduleRef = await startModule({ url: server.url });
    cache = moduleRef.get(RedisCache);
    client = moduleRef.get(REDIS_CACHE_CLIENT);
  });

  afterEach(async () => {
    await moduleRef.close();
    await server.dispose();
  });

  describe('with Redis stopped', () => {
    it('misses and skips writes at once, rejects flush, stats and ping, then resumes', async () => {
      const ctx = cache.withContext(uniqueId('app'), 'dev');
      await ctx.set('k', 'v');
      expect((await ctx.get('k')).found).toBe(true);

      await server.stop();
      await eventually(() => Promise.resolve(client.status !== 'ready'), 2000);

      const get = await timed(() => ctx.get('k'));
      expect(get.result).toEqual({ found: false, value: null });
      expect(get.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      const set = await timed(() => ctx.set('k2', 'v2'));
      expect(set.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      expect(await ctx.delete('k')).toBe(false);

      await expect(ctx.flushApp()).rejects.toThrow(CacheUnavailableError);
      await expect(ctx.flushDevice()).rejects.toThrow(CacheUnavailableError);
      await expect(ctx.stats()).rejects.toMatchObject({ operation: 'stats', kind: 'connection' });
      await expect(cache.ping()).rejects.toThrow(CacheUnavailableError);
      expect(cache.errorCounts().get?.connection).toBeGreaterThanOrEqual(1);
      expect(cache.errorCounts().set?.connection).toBeGreaterThanOrEqual(1);

      await server.restart();
      const recoveredInMs = await eventually(() => cachingWorks(cache), 5000);
      expect(recoveredInMs).toBeLessThan(3000);
      // Restarted empty: the old value is gone, and nothing written while down was kept anywhere.
      expect((await ctx.get('k2')).found).toBe(false);
      expect(await cache.ping()).toBeGreaterThanOrEqual(0);
    });
  });

  describe('with Redis frozen (SIGSTOP)', () => {
    it('answers a miss within the timeout, then at once, and resumes after SIGCONT', async () => {
      const ctx = cache.withContext(uniqueId('app'), 'dev');
      await ctx.set('k', 'v');

      server.freeze();
      try {
        const first = await timed(() => ctx.get('k'));
        expect(first.result.found).toBe(false);
        expect(first.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
        expect(first.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);

        // Stalled: nothing more is sent, so later calls do not wait the timeout again.
        const later = await timed(() =>
          Promise.all([ctx.get('k'), ctx.set('x', 'y'), ctx.get('z')]),
        );
        expect(later.result[0].found).toBe(false);
        expect(later.ms).toBeLessThan(50);

        await expect(ctx.flushApp()).rejects.toThrow(CacheUnavailableError);
        await expect(ctx.stats()).rejects.toThrow(CacheUnavailableError);
        expect(cache.errorCounts().get?.timeout).toBe(1);
      } finally {
        server.thaw();
      }
      const recoveredInMs = await eventually(async () => (await ctx.get('k')).found, 3000);
      expect(recoveredInMs).toBeLessThan(1000);
    });

    it('queues nothing more while frozen, however many calls arrive', async () => {
      const ctx = cache.withContext(uniqueId('app'), 'dev');
      server.freeze();
      try {
        const burst = await timed(() =>
          Promise.all(Array.from({ length: 200 }, (_, i) => ctx.get(`k${i}`))),
        );
        expect(burst.result.every((lookup) => !lookup.found)).toBe(true);
        expect(burst.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
        const queuedAfterBurst = client.commandQueue.length;

        for (let round = 0; round < 10; round++) {
          await Promise.all(Array.from({ length: 500 }, (_, i) => ctx.get(`k${i}`)));
          await sleep(30);
        }
        // 5,000 more calls over ~0.5 s: at most the single probe PING was added.
        expect(client.commandQueue.length).toBeLessThanOrEqual(queuedAfterBurst + 1);
        expect(queuedAfterBurst).toBeLessThanOrEqual(202);
      } finally {
        server.thaw();
      }
      await eventually(() => cachingWorks(cache), 3000);
    });
  });

  describe('logging', () => {
    it('logs an outage in a few lines, without keys or values', async () => {
      const logs = captureLogs();
      try {
        const secretKey = 'secret-key-7d1f';
        const secretValue = 'secret-value-93ab';
        const ctx = cache.withContext(uniqueId('app'), 'dev');
        await server.stop();
        await eventually(() => Promise.resolve(client.status !== 'ready'), 2000);
        for (let i = 0; i < 1000; i++) {
          await ctx.get(secretKey);
          await ctx.set(secretKey, secretValue);
        }
        const warnings = logs.lines.filter((line) => line.level === 'warn');
        expect(warnings.length).toBeGreaterThanOrEqual(2);
        expect(warnings.length).toBeLessThanOrEqual(6);
        expect(logs.text()).toMatch(/Cache get failing open \(connection\)/);
        expect(logs.text()).not.toContain(secretKey);
        expect(logs.text()).not.toContain(secretValue);
        expect(cache.errorCounts().get?.connection).toBe(1000);
        expect(cache.errorCounts().set?.connection).toBe(1000);
      } finally {
        logs.restore();
      }
    });
  });
});

/** Blocks this thread, as a CPU-bound handler or a burst of work would: the event loop runs nothing. */
function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('a busy process, not a slow Redis', () => {
  let server: RedisServerProcess;
  let moduleRef: TestingModule;
  let cache: RedisCache;
  let raw: Redis;

  beforeEach(async () => {
    server = await RedisServerProcess.start(['--enable-debug-command', 'yes']);
    moduleRef = await startModule({ url: server.url });
    cache = moduleRef.get(RedisCache);
    raw = new Redis(server.url);
  });
  afterEach(async () => {
    raw.disconnect();
    await moduleRef.close();
    await server.dispose();
  });

  it('reads a reply that arrived while the event loop was blocked past the timeout: a hit', async () => {
    const ctx = cache.withContext(uniqueId('app'), 'dev');
    await ctx.set('k', 'v');
    const lookup = ctx.get('k');
    await new Promise((resolve) => setImmediate(resolve)); // the GET is on the wire
    blockEventLoop(TIMEOUT_MS * 2); // Redis answers meanwhile; nothing reads it yet
    expect(await lookup).toEqual({ found: true, value: Buffer.from('v') });
    expect(cache.errorCounts()).toEqual({});
  });

  it('reports a deadline missed while blocked as an overload, and keeps using Redis', async () => {
    const logs = captureLogs();
    try {
      const ctx = cache.withContext(uniqueId('app'), 'dev');
      await ctx.set('k', 'v');
      // Redis busy for a while too, so the reply is not there when the process looks again.
      void raw.call('DEBUG', 'SLEEP', '0.6');
      await sleep(20);
      const lookup = ctx.get('k');
      await new Promise((resolve) => setImmediate(resolve));
      blockEventLoop(TIMEOUT_MS * 2);
      expect((await lookup).found).toBe(false);
      expect(cache.errorCounts().get).toEqual({ overload: 1 });
      expect(logs.text()).toMatch(
        /because this process was busy \(event loop \d+% busy, timers \d+ ms late\)/,
      );
      expect(logs.text()).toMatch(/Cache get failing open \(overload\)/);
      // Not taken for a stalled Redis: no stall was announced, and once Redis is done, the very next
      // read goes to it and hits.
      expect(logs.text()).not.toMatch(/did not answer within/);
      await eventually(async () => (await raw.ping()) === 'PONG', 3000);
      expect((await ctx.get('k')).found).toBe(true);
    } finally {
      logs.restore();
    }
  });
});

describe('failOpen: false', () => {
  it('rejects get, set and delete with CacheUnavailableError naming the operation', async () => {
    const server = await RedisServerProcess.start();
    const moduleRef = await startModule({ url: server.url, failOpen: false });
    const ctx = moduleRef.get(RedisCache).withContext('app', 'dev');
    try {
      await ctx.set('k', 'v');
      server.freeze();
      await expect(ctx.get('k')).rejects.toMatchObject({
        name: 'CacheUnavailableError',
        operation: 'get',
        kind: 'timeout',
      });
      await expect(ctx.set('k', 'v')).rejects.toMatchObject({
        operation: 'set',
        kind: 'connection',
      });
      await expect(ctx.delete('k')).rejects.toThrow(/Cache delete failed/);
    } finally {
      server.thaw();
      await moduleRef.close();
      await server.dispose();
    }
  });
});

describe('start-up', () => {
  it('starts within the wait when Redis is unreachable, logs it once, and picks Redis up later', async () => {
    const port = await freePort();
    const logs = captureLogs();
    let server: RedisServerProcess | undefined;
    const started = performance.now();
    const moduleRef = await startModule(
      { url: `redis://127.0.0.1:${port}`, startupWaitMs: 500 },
      logs.logger,
    );
    try {
      const startupMs = performance.now() - started;
      expect(startupMs).toBeGreaterThanOrEqual(450);
      expect(startupMs).toBeLessThan(1500);
      const unreachable = logs.lines.filter((line) => /unreachable/.test(line.message));
      expect(unreachable).toHaveLength(1);
      expect(unreachable[0].level).toBe('warn');

      const cache = moduleRef.get(RedisCache);
      const miss = await timed(() => cache.withContext('a', 'd').get('k'));
      expect(miss.result.found).toBe(false);
      expect(miss.ms).toBeLessThan(50);

      server = await RedisServerProcess.start([], port);
      const recoveredInMs = await eventually(() => cachingWorks(cache), 5000);
      expect(recoveredInMs).toBeLessThan(2500);
      expect(logs.text()).toMatch(/Connected to Redis at redis:\/\/127\.0\.0\.1:\d+\/0/);
    } finally {
      logs.restore();
      await moduleRef.close();
      await server?.dispose();
    }
  });

  it('waits for the first connection, so the cache works as soon as the module is up', async () => {
    const server = await RedisServerProcess.start();
    const moduleRef = await startModule({ url: server.url });
    try {
      expect(moduleRef.get<Redis>(REDIS_CACHE_CLIENT).status).toBe('ready');
      expect(await cachingWorks(moduleRef.get(RedisCache))).toBe(true);
    } finally {
      await moduleRef.close();
      await server.dispose();
    }
  });
});
