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
