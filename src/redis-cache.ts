import { Logger } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { CacheFailureHandler } from './cache-failure.handler';
import { CacheJobs } from './jobs/cache-jobs';
import { CacheLimits } from './cache-limits';
import type { CacheErrorCounts } from './cache-failure.handler';
import { TtlPolicy } from './cache-ttl';
import type { ContextualCache } from './contextual-cache';
import { NO_OBSERVER } from './metrics/cache-observer';
import type { CacheObserver } from './metrics/cache-observer';
import { NO_TRACING } from './tracing/cache-tracer';
import type { CacheTracer } from './tracing/cache-tracer';
import type { CacheStoreKind, RedisCacheModuleOptions } from './redis-cache.interfaces';
import { resolveRedisCacheOptions } from './redis-cache.options';
import type { ResolvedRedisCacheOptions } from './redis-cache.options';
import { ScopedCache } from './scoped-cache';
import { StampedeGuard } from './stampede/stampede-guard';
import { NO_STAMPEDE_OBSERVER } from './stampede/stampede-observer';
import type { StampedeObserver } from './stampede/stampede-observer';
import type { CacheRuntime } from './scoped-cache';
import type { CacheStore } from './stores/cache-store.interface';
import { MemoryStore } from './stores/memory.store';
import { RedisStore } from './stores/redis.store';

/** Cache behaviour settings, as in the module options (defaults applied). */
export type RedisCacheSettings = Pick<
  RedisCacheModuleOptions,
  | 'defaultTtlSeconds'
  | 'maxTtlSeconds'
  | 'operationTimeoutMs'
  | 'startupWaitMs'
  | 'failOpen'
  | 'maxValueBytes'
  | 'maxKeyBytes'
  | 'stampede'
  | 'namespaceIndex'
>;

export const REDIS_CACHE_LOGGER_CONTEXT = 'RedisCache';

/** What `RedisCache` itself reads of the resolved options (the store reads the rest). */
export type ResolvedCacheSettings = Pick<
  ResolvedRedisCacheOptions,
  'defaultTtlSeconds' | 'maxTtlSeconds' | 'failOpen' | 'maxValueBytes' | 'maxKeyBytes' | 'stampede'
>;

/** Metrics and traces of the cache's operations. */
export interface CacheInstruments {
  observer?: CacheObserver;
  stampedeObserver?: StampedeObserver;
  tracer?: CacheTracer;
}

/**
 * The shared cache: one store (one ioredis client) for the whole app, handing out cheap
 * `ContextualCache` views scoped to an app and a device.
 */
export class RedisCache {
  private readonly runtime: CacheRuntime;
  /** Flushes and counts that answer in bounded time, followed from any instance (`CacheJobs`). */
  readonly jobs: CacheJobs;

  /**
   * `settings` come validated (`resolveRedisCacheOptions`), once, where they enter: the module,
   * `fromClient`, `inMemory`. `instruments`: what hears of every operation (the module passes its
   * metrics and tracer).
   */
  constructor(
    store: CacheStore,
    settings: ResolvedCacheSettings = resolveRedisCacheOptions({ store: store.kind }),
    {
      observer = NO_OBSERVER,
      stampedeObserver = NO_STAMPEDE_OBSERVER,
      tracer = NO_TRACING,
    }: CacheInstruments = {},
  ) {
    const logger = new Logger(REDIS_CACHE_LOGGER_CONTEXT);
    this.runtime = {
      store,
      ttl: new TtlPolicy(settings.defaultTtlSeconds, settings.maxTtlSeconds),
      limits: new CacheLimits(settings.maxKeyBytes, settings.maxValueBytes),
      failures: new CacheFailureHandler(settings.failOpen, logger, observer),
      stampede: new StampedeGuard(store, settings.stampede, logger, stampedeObserver),
      observer,
      tracer,
    };
    this.jobs = new CacheJobs(store, this.runtime.failures, logger);
  }

  /**
   * A cache over an ioredis client you own (`close()` leaves it open). Resolves once the client is
   * connected and on its database, or after `startupWaitMs`, failing open until then.
   */
  static async fromClient(
    client: Redis | Cluster,
    settings: RedisCacheSettings = {},
  ): Promise<RedisCache> {
    const resolved = resolveRedisCacheOptions({ ...settings, client });
    const storeOptions = {
      operationTimeoutMs: resolved.operationTimeoutMs,
      ownsClient: false,
      logger: new Logger(REDIS_CACHE_LOGGER_CONTEXT),
      indexNamespaces: resolved.namespaceIndex,
    };
    const store = await RedisStore.open(client, storeOptions, resolved.startupWaitMs);
    return new RedisCache(store, resolved);
  }

  /** A cache in this process's memory, with the same semantics. */
  static inMemory(settings: RedisCacheSettings = {}): RedisCache {
    return new RedisCache(
      new MemoryStore(),
      resolveRedisCacheOptions({ ...settings, store: 'memory' }),
    );
  }

  /** The cache of one app on one device; throws `InvalidCacheContextError` for a bad id. */
  withContext(appId: string, deviceId: string): ContextualCache {
    return new ScopedCache(this.runtime, appId, deviceId);
  }

  /** Round trip to the backend in milliseconds; rejects with `CacheUnavailableError` when it cannot answer. */
  async ping(): Promise<number> {
    const started = performance.now();
    try {
      await this.runtime.store.ping();
    } catch (error) {
      this.runtime.failures.reject('ping', error);
    }
    return performance.now() - started;
  }

  /** Which store holds the data. */
  get storeKind(): CacheStoreKind {
    return this.runtime.store.kind;
  }

  /** The store's address, for logs and health output (no credentials). */
  get storeDescription(): string {
    return this.runtime.store.description;
  }

  /** Backend failures so far by operation and kind (`timeout`, `overload`, `connection`, `other`). */
  errorCounts(): CacheErrorCounts {
    return this.runtime.failures.errorCounts();
  }

  /** Releases the store; a client passed in (`client` option, `fromClient`) stays open. */
  async close(): Promise<void> {
    await this.jobs.close();
    await this.runtime.store.close();
  }
}
