import type { CacheFailureKind } from '../errors/redis-cache.errors';

/** Internal: the store refused to send a command because Redis is not answering. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}

/** How busy this process's event loop was while commands waited for their deadline. */
export interface EventLoopLoad {
  /** How late the deadline's timer ran (ms). */
  readonly lateMs: number;
  /** Share of the time the loop was running code since the timer was armed (0 to 1). */
  readonly utilization: number;
}

/** The load, for logs and errors: `event loop 97% busy, timers 120 ms late`. */
export function describeLoad({ lateMs, utilization }: EventLoopLoad): string {
  return `event loop ${Math.round(utilization * 100)}% busy, timers ${Math.round(lateMs)} ms late`;
}

/**
 * Internal: a command ran past `operationTimeoutMs`. With `overload`, this process's event loop
 * was too busy to hear Redis in time, and the time says nothing of Redis.
 */
export class CommandTimeoutError extends Error {
  override readonly name = 'CommandTimeoutError';
  constructor(
    readonly timeoutMs: number,
    readonly overload?: EventLoopLoad,
  ) {
    super(
      overload
        ? `No answer within ${timeoutMs} ms while this process was busy (${describeLoad(overload)}): an overload of this process, not necessarily of Redis`
        : `Redis did not answer within ${timeoutMs} ms`,
    );
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

// ioredis reports a closed or unwritable connection with plain Errors; these are their messages.
const CONNECTION_MESSAGES = [
  'Connection is closed',
  "Stream isn't writeable",
  'Reached the max retries per request limit',
  'Connection in subscriber mode',
];

/** Sorts a store failure into the kinds that logs and metrics report. */
export function classifyStoreError(error: unknown): CacheFailureKind {
  if (error instanceof CommandTimeoutError) return error.overload ? 'overload' : 'timeout';
  if (error instanceof StoreUnavailableError) return 'connection';
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code && CONNECTION_CODES.has(code)) return 'connection';
    if (CONNECTION_MESSAGES.some((text) => error.message.includes(text))) return 'connection';
  }
  return 'other';
}

/**
 * The error as a cause may carry it: ioredis puts the command's arguments on its errors
 * (`command.args`: the key and, for SET, the cached value), and whatever prints an error with its
 * cause would print them. A copy keeps the name, message, code and the command's name only.
 */
export function withoutCommandArguments(error: unknown): unknown {
  if (!(error instanceof Error) || !('command' in error)) return error;
  const command = (error as { command?: { name?: unknown } }).command;
  const copy = new Error(error.message);
  copy.name = error.name;
  copy.stack = error.stack;
  const code = (error as NodeJS.ErrnoException).code;
  return Object.assign(copy, {
    ...(code !== undefined && { code }),
    command: { name: command?.name },
  });
}
