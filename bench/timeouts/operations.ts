// The GET each timeout variant runs in its worker (bench/library/worker.ts), on a connection of
// its own: every read a hit on BENCH_KEY.
import { Command, Redis } from 'ioredis';
import { RedisCache } from '../../src';
import { CommandDeadlines } from '../../src/stores/command-deadlines';
import { isBenchBuffer, KEYS } from '../library/variants';
import type { Operation } from '../library/variants';
import { BENCH_APP, BENCH_DEVICE, BENCH_KEY } from '../support/redis';
import { TIMEOUT_MS } from './variants';
import type { TimeoutVariant } from './variants';

export async function timeoutOperation(variant: TimeoutVariant, url: string): Promise<Operation> {
  const client = new Redis(url, {
    lazyConnect: true,
    ...(variant === 'ioredis-commandTimeout' && { commandTimeout: TIMEOUT_MS }),
  });
  await client.connect();
  let timedOut = 0;
  const common = {
    isExpected: isBenchBuffer,
    // Commands the variant's own deadline mechanism timed out (none expected) count as errors.
    swallowedErrors: () => timedOut,
    close: async () => {
      await client.quit();
    },
  };
  switch (variant) {
    case 'unbounded':
    case 'ioredis-commandTimeout':
      return { run: () => client.getBuffer(BENCH_KEY), ...common };
    case 'one-timer-deadlines': {
      const cache = (
        await RedisCache.fromClient(client, { operationTimeoutMs: TIMEOUT_MS })
      ).withContext(BENCH_APP, BENCH_DEVICE);
      // A timed-out GET fails open: it shows up as a miss.
      return {
        ...common,
        run: () => cache.get(KEYS.hit),
        isExpected: (result) => (result as { found: boolean }).found,
      };
    }
    case 'one-timer-deadlines-raw': {
      const deadlines = new CommandDeadlines(TIMEOUT_MS, () => timedOut++);
      // The same shape as RedisStore.track: the entry settles with the command, whose own promise
      // is handed back (no async frame).
      const run = () => {
        const command = new Command('get', [BENCH_KEY], { replyEncoding: null });
        deadlines.track(command);
        return client.sendCommand(command) as Promise<unknown>;
      };
      return { run, ...common };
    }
    case 'sendCommand-no-deadline': {
      const run = () => {
        const command = new Command('get', [BENCH_KEY], { replyEncoding: null });
        return client.sendCommand(command) as Promise<unknown>;
      };
      return { run, ...common };
    }
  }
}
