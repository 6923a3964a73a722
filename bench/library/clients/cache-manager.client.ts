// What a NestJS user gets from @nestjs/cache-manager on Redis today: the module's own provider
// from `CacheModule.register({ stores: [createKeyv(url)] })` (the NestJS docs' setup) in an
// application context, so the cache is exactly what its factory builds: cache-manager's
// `createCache` over the Keyv that @keyv/redis's `createKeyv` returns (node-redis underneath).
// @nestjs/cache-manager is ESM-only: Node >= 20.19 loads it through require().
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import { NestFactory } from '@nestjs/core';
import { createKeyv } from '@keyv/redis';
import type { Cache } from 'cache-manager';
import { BENCH_VALUE } from '../../support/redis';
import { KEYS, redisKeyOf, SET_TTL_SECONDS } from '../variants';
import type { LibraryOperation, Operation } from '../variants';

/** TTL of the hit key: well past any run (the worker deletes it when done). */
const HIT_TTL_MS = 3 * 3600 * 1000;

export async function cacheManagerOperation(
  url: string,
  operation: LibraryOperation,
): Promise<Operation> {
  const app = await NestFactory.createApplicationContext(
    CacheModule.register({ stores: [createKeyv(url)] }),
    { logger: false },
  );
  const cache = app.get<Cache>(CACHE_MANAGER);
  // cache-manager and Keyv turn store errors into events and `undefined`: count them.
  let errors = 0;
  for (const store of cache.stores) store.on('error', () => errors++);
  const [hitKey, missKey, setKey] = [KEYS.cacheManagerHit, KEYS.miss, KEYS.set].map(redisKeyOf);
  // These also connect node-redis, which connects on first use.
  if (operation === 'get-hit') await cache.set(hitKey, BENCH_VALUE, HIT_TTL_MS);
  if ((await cache.get(missKey)) !== undefined) throw new Error(`${missKey} exists`);

  const operations: Record<LibraryOperation, Pick<Operation, 'run' | 'isExpected'>> = {
    'get-hit': { run: () => cache.get(hitKey), isExpected: (r) => r === BENCH_VALUE },
    'get-miss': { run: () => cache.get(missKey), isExpected: (r) => r === undefined },
    set: {
      run: () => cache.set(setKey, BENCH_VALUE, SET_TTL_SECONDS * 1000),
      isExpected: (r) => r === BENCH_VALUE,
    },
  };
  return {
    ...operations[operation],
    swallowedErrors: () => errors,
    close: async () => {
      if (operation === 'get-hit') await cache.del(hitKey);
      if (operation === 'set') await cache.del(setKey);
      await app.close();
    },
  };
}
