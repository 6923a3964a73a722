// Raw ioredis: a plain client, with or without auto-pipelining.
import { Redis } from 'ioredis';
import { BENCH_KEY, BENCH_VALUE } from '../../support/redis';
import { isBenchBuffer, KEYS, redisKeyOf, SET_TTL_SECONDS } from '../variants';
import type { LibraryOperation, Operation } from '../variants';

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
  const missKey = redisKeyOf(KEYS.miss);
  const setKey = redisKeyOf(KEYS.set);
  const operations: Record<LibraryOperation, Pick<Operation, 'run' | 'isExpected'>> = {
    'get-hit': { run: () => client.getBuffer(BENCH_KEY), isExpected: isBenchBuffer },
    'get-miss': { run: () => client.getBuffer(missKey), isExpected: (r) => r === null },
    set: {
      run: () => client.set(setKey, BENCH_VALUE, 'EX', SET_TTL_SECONDS),
      isExpected: (r) => r === 'OK',
    },
  };
  return {
    ...operations[operation],
    swallowedErrors: () => 0,
    close: async () => {
      if (operation === 'set') await client.del(setKey);
      await client.quit();
    },
  };
}
