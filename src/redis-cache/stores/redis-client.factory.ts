import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { RedisConnection } from '../redis-cache.options';

/**
 * Settings that keep a dead Redis from stalling requests: no offline queue (a command while
 * disconnected fails at once instead of piling up), no retries or resends of in-flight commands.
 * They override anything in `redisOptions`.
 */
const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  lazyConnect: true,
};

/** Defaults `redisOptions` may change. */
const RECONNECT_DEFAULTS: RedisOptions = {
  connectTimeout: 5_000,
  // Reconnect quickly at first, then every second: the cache should come back soon after Redis does.
  retryStrategy: (attempt: number) => Math.min(attempt * 100, 1_000),
};

/** Builds the ioredis client the module owns; it connects when `connectWithin` is called. */
export function createRedisClient(connection: Extract<RedisConnection, { kind: 'create' }>): Redis {
  const explicit: RedisOptions = {
    ...(connection.username !== undefined && { username: connection.username }),
    ...(connection.password !== undefined && { password: connection.password }),
    ...(connection.db !== undefined && { db: connection.db }),
    ...(connection.tls !== undefined && { tls: connection.tls }),
  };
  const options: RedisOptions = {
    ...RECONNECT_DEFAULTS,
    ...connection.redisOptions,
    ...explicit,
    ...FAIL_FAST,
  };
  return connection.url
    ? new Redis(connection.url, options)
    : new Redis({ ...options, host: connection.host, port: connection.port });
}

/**
 * Starts connecting and waits at most `waitMs` for the connection to be ready. Resolves `null` when
 * ready, else the reason it is not; the client keeps reconnecting in the background either way.
 */
export async function connectWithin(client: Redis, waitMs: number): Promise<string | null> {
  if (client.status === 'ready') return null;
  let lastError = 'no answer yet';
  const onError = (error: Error) => (lastError = error.message || String(error));
  client.on('error', onError);
  let timer: NodeJS.Timeout | undefined;
  let onReady: (() => void) | undefined;
  try {
    if (client.status === 'wait') client.connect().catch(onError);
    const ready = await new Promise<boolean>((resolve) => {
      onReady = () => resolve(true);
      client.once('ready', onReady);
      timer = setTimeout(() => resolve(false), waitMs);
    });
    return ready ? null : `not ready after ${waitMs} ms (${lastError})`;
  } finally {
    clearTimeout(timer);
    if (onReady) client.off('ready', onReady);
    client.off('error', onError);
  }
}
