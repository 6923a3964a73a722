import { Redis } from 'ioredis';
import { RedisCache } from '../../src';
import type { RedisCacheSettings } from '../../src';
import { RedisServerProcess } from './redis-server';

/** What each test of a suite gets from `redisPerTest`. */
export interface RedisPerTest {
  /** This test's own redis-server. */
  readonly server: RedisServerProcess;
  /** A plain client on it, for looking behind the cache's back. */
  readonly raw: Redis;
  /** Runs `close` after the test, before the server stops (the latest registered first). */
  closeAfter(close: () => Promise<unknown>): void;
  /** A cache on its own client of the server (the suite's settings, then these), closed after the test. */
  openCache(settings?: RedisCacheSettings): Promise<RedisCache>;
}

/**
 * Gives each test of the calling suite a redis-server of its own (for tests that stop, freeze,
 * restart or fill it), and closes what the test opened, then the server, when it ends.
 */
export function redisPerTest(defaults: RedisCacheSettings = {}): RedisPerTest {
  let server: RedisServerProcess | undefined;
  let raw: Redis | undefined;
  const closers: (() => Promise<unknown>)[] = [];
  const own: RedisPerTest = {
    get server() {
      return server!;
    },
    get raw() {
      return raw!;
    },
    closeAfter: (close) => void closers.push(close),
    async openCache(settings = {}) {
      const client = new Redis(own.server.url);
      const cache = await RedisCache.fromClient(client, { ...defaults, ...settings });
      own.closeAfter(async () => {
        await cache.close();
        client.disconnect();
      });
      return cache;
    },
  };
  beforeEach(async () => {
    server = await RedisServerProcess.start();
    raw = new Redis(server.url);
  });
  afterEach(async () => {
    // Whatever a closer throws, the rest run and the server stops; the first failure is reported.
    const failures: unknown[] = [];
    for (const close of closers.splice(0).reverse()) await close().catch((e) => failures.push(e));
    raw?.disconnect();
    await server?.dispose();
    raw = undefined;
    server = undefined;
    if (failures.length > 0) throw failures[0];
  });
  return own;
}
