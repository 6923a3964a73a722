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

/** What a worker prints after `RESULT `, one per variant. */
export interface WorkerResult {
  variant: TimeoutVariant;
  node: string;
  ops: number;
  seconds: number;
  opsPerSec: number;
  misses: number;
  errors: number;
  timedOut: number;
  /** The worker's own CPU time (user + system) over its life (all variants), in ms. */
  cpuMs: number;
  /** ops/s of each slice, in order. */
  slicesOpsPerSec: number[];
  /** CPU time per operation while measured, in µs: the cost of a GET on the client side. */
  cpuUsPerOp: number;
  /** CPU the worker used while measured, in cores (≈ 1 when it is the bottleneck). */
  cores: number;
}
