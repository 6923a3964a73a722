// The variants of the timeout-bounding microbenchmark, and the GET each runs: every read a hit on
// BENCH_KEY. The worker loads this module only for these variants.
import { Command, Redis } from 'ioredis';
import { RedisCache } from '../../src';
import { CommandDeadlines } from '../../src/stores/command-deadlines';
import { isBenchBuffer, KEYS } from '../library/variants';
import type { Operation } from '../library/variants';
import { BENCH_APP, BENCH_DEVICE, BENCH_KEY } from '../support/redis';

/** The first is the baseline. */
export const TIMEOUT_VARIANTS = [
  'unbounded',
  'ioredis-commandTimeout',
  'one-timer-deadlines',
  'one-timer-deadlines-raw',
  'sendCommand-no-deadline',
] as const;
export type TimeoutVariant = (typeof TIMEOUT_VARIANTS)[number];
export const TIMEOUT_BASELINE: TimeoutVariant = 'unbounded';

export const TIMEOUT_VARIANT_DESCRIPTIONS: Record<TimeoutVariant, string> = {
  unbounded: '`client.getBuffer(key)` on a plain client: no timeout at all',
  'ioredis-commandTimeout':
    '`client.getBuffer(key)` on a client with `commandTimeout: 200` (one timer per command)',
  'one-timer-deadlines':
    "`RedisCache.fromClient(client, { operationTimeoutMs: 200 }).withContext('app1', 'dev1').get('k')`: the whole cache layer",
  'one-timer-deadlines-raw':
    '`new Command(get)`, `deadlines.track(cmd)`, `client.sendCommand(cmd)` (the entry settles with the command): the deadline mechanism alone',
  'sendCommand-no-deadline':
    '`client.sendCommand(new Command(get))`, no deadline: control for the raw variant',
};

/** The timeout every bounded variant uses; no command comes near it. */
export const TIMEOUT_MS = 200;

/** The GET a variant's worker (bench/library/worker.ts) runs, on a connection of its own. */
export async function timeoutOperation(name: string, url: string): Promise<Operation> {
  const variant = name as TimeoutVariant;
  if (!TIMEOUT_VARIANTS.includes(variant))
    throw new Error(`${name} is neither a library nor a timeouts variant`);
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
