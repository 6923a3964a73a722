import { Redis } from 'ioredis';
import { RedisCache } from '../src';
import { describeCacheContract } from './contract/cache-contract';
import { acquireRedis } from './support/redis-target';
import type { RedisTarget } from './support/redis-target';

let target: RedisTarget;
let client: Redis;
let redisCache: RedisCache;

describeCacheContract(
  'redis',
  async (settings) => {
    target = await acquireRedis();
    client = new Redis(target.url);
    await client.ping();
    // Behaviour, not timeouts: a generous bound so a busy machine never turns a write into a skip.
    redisCache = await RedisCache.fromClient(client, { ...settings, operationTimeoutMs: 5000 });
    return { cache: redisCache, ttlOf: (key) => client.ttl(key) };
  },
  async () => {
    await redisCache.close();
    client.disconnect();
    await target.release();
  },
);

let memoryCache: RedisCache;

describeCacheContract(
  'memory',
  (settings) => {
    memoryCache = RedisCache.inMemory(settings);
    return Promise.resolve({ cache: memoryCache });
  },
  () => memoryCache.close(),
);
