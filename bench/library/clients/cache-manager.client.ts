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
import {
  CACHE_MANAGER_HIT_KEY,
  CACHE_MANAGER_HIT_TTL_SECONDS,
  MISS_KEY,
  SET_KEY,
  SET_TTL_SECONDS,
} from '../variants';
import type { LibraryOperation } from '../variants';
import type { Operation } from './operation';

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
  // These also connect node-redis, which connects on first use.
  if (operation === 'get-hit') {
    await cache.set(CACHE_MANAGER_HIT_KEY, BENCH_VALUE, CACHE_MANAGER_HIT_TTL_SECONDS * 1000);
  }
  if ((await cache.get(MISS_KEY)) !== undefined) throw new Error(`${MISS_KEY} exists`);

  const common = {
    swallowedErrors: () => errors,
    close: async () => {
      if (operation === 'get-hit') await cache.del(CACHE_MANAGER_HIT_KEY);
      if (operation === 'set') await cache.del(SET_KEY);
      await app.close();
    },
  };
  switch (operation) {
    case 'get-hit':
      return {
        run: () => cache.get(CACHE_MANAGER_HIT_KEY),
        isExpected: (r) => r === BENCH_VALUE,
        ...common,
      };
    case 'get-miss':
      return { run: () => cache.get(MISS_KEY), isExpected: (r) => r === undefined, ...common };
    case 'set':
      return {
        run: () => cache.set(SET_KEY, BENCH_VALUE, SET_TTL_SECONDS * 1000),
        isExpected: (r) => r === BENCH_VALUE,
        ...common,
      };
  }
}
