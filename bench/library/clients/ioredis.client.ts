// Raw ioredis: a plain client, with or without auto-pipelining.
import { Redis } from 'ioredis';
import { BENCH_KEY, BENCH_VALUE } from '../../support/redis';
import { MISS_KEY, SET_KEY, SET_TTL_SECONDS } from '../variants';
import type { LibraryOperation } from '../variants';
import { isBenchBuffer } from './operation';
import type { Operation } from './operation';

export async function ioredisOperation(
  url: string,
  operation: LibraryOperation,
  autoPipelining: boolean,
): Promise<Operation> {
  const client = new Redis(url, {
    lazyConnect: true,
    ...(autoPipelining && { enableAutoPipelining: true }),
  });
  await client.connect();
  const common = {
    swallowedErrors: () => 0,
    close: async () => {
      if (operation === 'set') await client.del(SET_KEY);
      await client.quit();
    },
  };
  switch (operation) {
    case 'get-hit':
      return { run: () => client.getBuffer(BENCH_KEY), isExpected: isBenchBuffer, ...common };
    case 'get-miss':
      return {
        run: () => client.getBuffer(MISS_KEY),
        isExpected: (r) => r === null,
        ...common,
      };
    case 'set':
      return {
        run: () => client.set(SET_KEY, BENCH_VALUE, 'EX', SET_TTL_SECONDS),
        isExpected: (r) => r === 'OK',
        ...common,
      };
  }
}
