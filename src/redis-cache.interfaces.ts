import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { MeterProvider } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import type { ConnectionOptions } from 'node:tls';

/** The operations a cache performs; used in errors, logs and (later) metrics. */
export type CacheOperation =
  'get' | 'set' | 'delete' | 'flush_app' | 'flush_device' | 'stats' | 'ping' | 'job_status';

/** A value found in the cache: exactly the bytes that were stored. */
export interface CacheHit {
  readonly found: true;
  readonly value: Buffer;
}

/** Nothing stored under the key (or, failing open, the backend could not answer). */
export interface CacheMiss {
  readonly found: false;
  readonly value: null;
}

export type CacheLookup = CacheHit | CacheMiss;

/** Options of the namespace operations (`flushApp`, `flushDevice`, `stats`). */
export interface NamespaceOperationOptions {
  /**
   * Hears the keys deleted (or counted) so far after each step, for progress on a large namespace.
   * What it throws is ignored.
   */
  onProgress?: (keys: number) => void;
}

/** `getJson` result: the parsed value, or a miss. */
export type CacheJsonLookup<T> = { readonly found: true; readonly value: T } | CacheMiss;

/** Route parameter names that carry the app and device ids. */
export interface CacheRouteParams {
  /** @default 'appId' */
  app: string;
  /** @default 'deviceId' */
  device: string;
}

export type CacheStoreKind = 'redis' | 'memory';

/** A Redis node: `{ host, port }` or `"host:port"` (`"[::1]:6379"` for IPv6). */
export type RedisNodeAddress = { host: string; port: number } | string;

/** A Redis Cluster, reached through ioredis's `Cluster` (it routes each key to its master). */
export interface RedisClusterConnectionOptions {
  /** Some or all nodes of the cluster; ioredis discovers the rest. */
  nodes: RedisNodeAddress[];
  /** Extra ioredis `Cluster` options (fail-fast settings still apply). */
  clusterOptions?: Omit<ClusterOptions, 'keyPrefix' | 'redisOptions'>;
}

/** Options of `RedisCacheModule.forRoot` / `forRootAsync`. Every one is optional. */
export interface RedisCacheModuleOptions {
  /**
   * Where Redis is: set only one of `url`, `addr`, `host`/`port`, `cluster`, `sentinels` or `client`.
   * `redis://` or `rediss://` URL.
   */
  url?: string;
  /** `"host:port"`, as the Go service's `REDIS_ADDR`. */
  addr?: string;
  /** @default 'localhost' */
  host?: string;
  /** @default 6379 */
  port?: number;
  /** ACL user name. */
  username?: string;
  /** AUTH password; never logged. */
  password?: string;
  /** Database index. @default 0 */
  db?: number;
  /** `true` for TLS with Node's defaults, or Node TLS options (CA, client certificate, ...). */
  tls?: boolean | ConnectionOptions;
  /** A Redis Cluster: its nodes (and extra `Cluster` options). */
  cluster?: RedisClusterConnectionOptions;
  /** Sentinels watching the master group `name`; the client follows failovers they announce. */
  sentinels?: RedisNodeAddress[];
  /** Master group name the sentinels monitor (required with `sentinels`). */
  name?: string;
  /** Password of the sentinels themselves, when they require one; never logged. */
  sentinelPassword?: string;
  /** An existing ioredis client (`Redis` or `Cluster`) to use; the module never closes it. */
  client?: Redis | Cluster;
  /**
   * Extra ioredis options for the client the module creates, or for each node of a cluster
   * (fail-fast settings still apply).
   */
  redisOptions?: Omit<RedisOptions, 'keyPrefix'>;
  /** `'memory'` keeps the cache in this process (same semantics, nothing shared). @default 'redis' */
  store?: CacheStoreKind;
  /** TTL used when none (or 0) is given. @default 60 */
  defaultTtlSeconds?: number;
  /** Longer TTLs are clamped to this. @default 86400 */
  maxTtlSeconds?: number;
  /**
   * Longest a get, set or delete waits for Redis before failing open. Each SCAN/UNLINK step of a
   * flush or count may take 5x this (at least 1 s). @default 200
   */
  operationTimeoutMs?: number;
  /** How long start-up waits for the first connection before going on without it. @default 1500 */
  startupWaitMs?: number;
  /** `get` misses and `set`/`delete` go on when Redis fails, instead of rejecting. @default true */
  failOpen?: boolean;
  /** Largest value `set` accepts, in bytes; a larger one is refused with `InvalidCacheValueError`. @default 33554432 (32 MiB) */
  maxValueBytes?: number;
  /** Longest key `get`/`set`/`delete` accept, in UTF-8 bytes (ids not included). @default 1024 */
  maxKeyBytes?: number;
  /** How `getOrSet` keeps many callers from loading the same value at once. */
  stampede?: CacheStampedeOptions;
  /**
   * Keep an index of each namespace's keys beside them in Redis (written in the same script as
   * each key), so `flushApp`, `flushDevice` and `stats` take time in proportion to the namespace,
   * not to the database. Keys written before (or by the Go service) are indexed once in the
   * background by one instance; until that is done, flushes and counts SCAN. Leave it off while
   * another writer that does not index keeps writing cache keys. @default false
   */
  namespaceIndex?: boolean;
  /** Names of the route params that carry the ids. @default { app: 'appId', device: 'deviceId' } */
  routeParams?: Partial<CacheRouteParams>;
  /** Prometheus metrics of the cache (on by default, in prom-client's global registry). */
  metrics?: CacheMetricsOptions;
  /** OpenTelemetry spans of the cache's operations (they record only where an SDK is started). */
  tracing?: CacheTracingOptions;
}

/**
 * Stampede protection of `getOrSet`. Concurrent callers in one process always share one loader
 * call; these add protection across processes and before expiry.
 */
export interface CacheStampedeOptions {
  /**
   * Take a short Redis lock (`SET NX PX`) before loading, so one instance loads while the others
   * wait for its value. @default false
   */
  lock?: boolean;
  /** How long the lock lives, in ms: a loader slower than this lets another instance in. @default 5000 */
  lockTtlMs?: number;
  /** Longest a caller waits for another instance's value before loading itself, in ms. @default 2000 */
  lockWaitMs?: number;
  /**
   * Recompute hot keys shortly before they expire, by the XFetch rule (Vattani et al., VLDB 2015);
   * the caller that draws the refresh still gets the cached value. @default false
   */
  earlyRefresh?: boolean;
  /** XFetch's beta: above 1 refreshes earlier, below 1 later. @default 1 */
  earlyRefreshBeta?: number;
}

/** OpenTelemetry spans of the cache's operations. */
export interface CacheTracingOptions {
  /** Make a span per operation. @default true */
  enabled?: boolean;
  /** Put the device id on spans (`cache.device_id`). @default false */
  recordDeviceId?: boolean;
  /** Put the cache key on spans (`cache.key`). @default false */
  recordKey?: boolean;
}

/** Prometheus metrics of the cache. */
export interface CacheMetricsOptions {
  /** Record metrics. @default true */
  enabled?: boolean;
  /** Prefix of every metric name. @default 'matrx_cache_' */
  prefix?: string;
  /** Registry to register the metrics in. @default prom-client's global `register` */
  registry?: Registry;
  /**
   * App ids that get their own `app` label value; every other id is counted as `other`, so clients
   * cannot grow the label set. No device id is ever a label. @default []
   */
  apps?: string[];
  /**
   * How often the key counts (`keys{app}`, `database_keys`) are refreshed in the background, in
   * milliseconds; 0 turns them off. @default 30000
   */
  keyCountIntervalMs?: number;
  /**
   * How the keys are counted: 0 exactly, with SCAN (work in proportion to the whole database); N
   * from N random keys (RANDOMKEY, scaled by DBSIZE; constant work, off by about ±2·√(p(1−p)/N) of
   * the database for an app holding a share p of it); 'auto' exactly up to 1,000,000 keys, from
   * 10,000 random keys above. Either way one instance of the fleet counts per interval.
   * @default 'auto'
   */
  keyCountSamples?: number | 'auto';
  /**
   * Also record every operation through the OpenTelemetry metrics API, as the semantic conventions'
   * `db.client.operation.duration` histogram (for teams that export metrics with OTLP); Prometheus
   * metrics stay as they are. `true` uses the global MeterProvider as it is when the module starts
   * (start the OpenTelemetry SDK before the app is created), or give one. @default false
   */
  openTelemetry?: boolean | { meterProvider: MeterProvider };
}
