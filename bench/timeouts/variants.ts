/** The variants of the timeout-bounding microbenchmark; the first is the baseline. */
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
