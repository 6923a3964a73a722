import type { CacheFailureKind } from '../errors/redis-cache.errors';

/** Internal: the store refused to send a command because Redis is not answering. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}

/** Internal: Redis did not answer a command within `operationTimeoutMs`. */
export class CommandTimeoutError extends Error {
  override readonly name = 'CommandTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`);
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
  if (error instanceof CommandTimeoutError) return 'timeout';
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
