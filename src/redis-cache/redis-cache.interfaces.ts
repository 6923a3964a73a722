import type { Redis, RedisOptions } from 'ioredis';
import type { Registry } from 'prom-client';
import type { ConnectionOptions } from 'node:tls';

/** The operations a cache performs; used in errors, logs and (later) metrics. */
export type CacheOperation =
  'get' | 'set' | 'delete' | 'flush_app' | 'flush_device' | 'stats' | 'ping';

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

/** Options of `RedisCacheModule.forRoot` / `forRootAsync`. Every one is optional. */
export interface RedisCacheModuleOptions {
  /** `redis://` or `rediss://` URL; wins over `addr` and `host`/`port` (set only one of them). */
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
  /** An existing ioredis client to use instead of creating one; the module never closes it. */
  client?: Redis;
  /** Extra ioredis options for the client the module creates (fail-fast settings still apply). */
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
  /** Names of the route params that carry the ids. @default { app: 'appId', device: 'deviceId' } */
  routeParams?: Partial<CacheRouteParams>;
  /** Prometheus metrics of the cache (on by default, in prom-client's global registry). */
  metrics?: CacheMetricsOptions;
  /** OpenTelemetry spans of the cache's operations (they record only where an SDK is started). */
  tracing?: CacheTracingOptions;
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
}
