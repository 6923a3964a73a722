import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { CreatedRedisConnection, RedisClientSettings } from '../options/redis-connection';

/** The client the Redis store talks through: one server (plain or behind Sentinel) or a cluster. */
export type RedisClient = Redis | Cluster;

/**
 * Whether the client is a cluster client. By ioredis's own `isCluster` flag, not `instanceof`: a
 * client made by the application's copy of ioredis is not an instance of this package's copy.
 */
export function isClusterClient(client: RedisClient): client is Cluster {
  return client.isCluster === true;
}

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

/**
 * A cluster fails fast at the cluster level (no offline queue while the slot map is unknown); each
 * node keeps ioredis's own queue for the moment it connects, since cluster nodes connect lazily on
 * their first command. Every command is still bounded by the store's deadline.
 */
const CLUSTER_FAIL_FAST: ClusterOptions = {
  enableOfflineQueue: false,
  lazyConnect: true,
};

/** Cluster defaults `clusterOptions` may change. */
const CLUSTER_DEFAULTS: ClusterOptions = {
  clusterRetryStrategy: (attempt: number) => Math.min(attempt * 100, 1_000),
  // ioredis reads the slot map only on redirections and errors by default; a frozen master sends
  // neither, so its failover would go unnoticed. Re-reading it every few seconds costs one small
  // CLUSTER SLOTS per interval.
  slotsRefreshInterval: 5_000,
};
const CLUSTER_NODE_FAIL_FAST: RedisOptions = {
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
};

/** Builds the ioredis client the module owns; it connects when `connectWithin` is called. */
export function createRedisClient(connection: CreatedRedisConnection): RedisClient {
  switch (connection.kind) {
    case 'create': {
      const options = clientOptions(connection);
      return connection.url
        ? new Redis(connection.url, options)
        : new Redis({ ...options, host: connection.host, port: connection.port });
    }
    case 'sentinel':
      return new Redis({
        ...clientOptions(connection),
        sentinels: connection.sentinels,
        name: connection.name,
        ...(connection.sentinelPassword !== undefined && {
          sentinelPassword: connection.sentinelPassword,
        }),
        // The sentinels are reached with the same TLS settings as the master.
        ...(connection.tls !== undefined && {
          enableTLSForSentinelMode: true,
          sentinelTLS: connection.tls,
        }),
      });
    case 'cluster':
      return new Cluster(connection.nodes, {
        ...CLUSTER_DEFAULTS,
        ...connection.clusterOptions,
        ...CLUSTER_FAIL_FAST,
        redisOptions: {
          ...RECONNECT_DEFAULTS,
          ...connection.redisOptions,
          ...credentials(connection),
          ...CLUSTER_NODE_FAIL_FAST,
        },
      });
    default:
      return assertNever(connection);
  }
}

function clientOptions(connection: RedisClientSettings): RedisOptions {
  return {
    ...RECONNECT_DEFAULTS,
    ...connection.redisOptions,
    ...credentials(connection),
    ...(connection.db !== undefined && { db: connection.db }),
    ...FAIL_FAST,
  };
}

function credentials(connection: RedisClientSettings): RedisOptions {
  return {
    ...(connection.username !== undefined && { username: connection.username }),
    ...(connection.password !== undefined && { password: connection.password }),
    ...(connection.tls !== undefined && { tls: connection.tls }),
  };
}

function assertNever(value: never): never {
  throw new Error(`Unknown Redis connection ${JSON.stringify(value)}`);
}

/**
 * Starts connecting and waits at most `waitMs` for the connection to be ready. Resolves `null` when
 * ready, else the reason it is not; the client keeps reconnecting in the background either way.
 */
export async function connectWithin(client: RedisClient, waitMs: number): Promise<string | null> {
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
