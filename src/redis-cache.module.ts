import { Inject, Logger, Module } from '@nestjs/common';
import type {
  DynamicModule,
  NestModule,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Provider,
} from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CacheRequestHooks } from './context/cache-request.hooks';
import { contextualCacheProvider } from './context/contextual-cache.providers';
import { RequestCacheResolver } from './context/request-cache.resolver';
import { ContextualCache } from './contextual-cache';
import { CacheJobs } from './jobs/cache-jobs';
import { REDIS_CACHE_LOGGER_CONTEXT, RedisCache } from './redis-cache';
import {
  REDIS_CACHE_CLIENT,
  REDIS_CACHE_BACKEND_UP,
  REDIS_CACHE_KEY_COUNTS,
  REDIS_CACHE_REQUEST_METRICS,
  REDIS_CACHE_STORE,
  RESOLVED_REDIS_CACHE_OPTIONS,
} from './redis-cache.constants';
import type { RedisCacheModuleOptions } from './redis-cache.interfaces';
import {
  REDIS_CACHE_ASYNC_OPTIONS_TYPE,
  REDIS_CACHE_EXTRAS_DEFAULTS,
  REDIS_CACHE_MODULE_OPTIONS,
  REDIS_CACHE_OPTIONS_TYPE,
  RedisCacheConfigurableModule,
} from './redis-cache.module-definition';
import type { RedisCacheModuleExtras } from './redis-cache.module-definition';
import { resolveRedisCacheOptions } from './redis-cache.options';
import type { ResolvedCacheMetricsOptions, ResolvedRedisCacheOptions } from './redis-cache.options';
import type { CacheStore } from './stores/cache-store.interface';
import { observeWith } from './metrics/cache-observer';
import type { CacheObserver } from './metrics/cache-observer';
import {
  databaseAttributes,
  OpenTelemetryCacheMetrics,
} from './metrics/opentelemetry-cache-metrics';
import { reportBackendUp } from './metrics/backend-up.gauge';
import { CacheMetricsInterceptor } from './metrics/cache-metrics.interceptor';
import { CacheRequestMetrics } from './metrics/cache-request-metrics';
import { KeyCountRefresher } from './metrics/key-count-refresher';
import { PrometheusCacheMetrics } from './metrics/prometheus-cache-metrics';
import { PrometheusStampedeMetrics } from './metrics/prometheus-stampede-metrics';
import { MemoryStore } from './stores/memory.store';
import { CacheTracer } from './tracing/cache-tracer';
import { createRedisClient } from './stores/redis-client.factory';
import { RedisStore } from './stores/redis.store';

/** Builds the store and, for Redis, waits (bounded) for the first connection. */
async function createStore(options: ResolvedRedisCacheOptions): Promise<CacheStore> {
  const logger = new Logger(REDIS_CACHE_LOGGER_CONTEXT);
  if (options.store === 'memory') {
    const store = new MemoryStore();
    logger.log(
      'Using the embedded in-memory store: the cache lives in this process only. Set REDIS_URL or REDIS_ADDR (or the url option) to share it through Redis.',
    );
    return store;
  }
  const { connection } = options;
  const ownsClient = connection.kind !== 'client';
  const client = ownsClient ? createRedisClient(connection) : connection.client;
  const storeOptions = {
    operationTimeoutMs: options.operationTimeoutMs,
    ownsClient,
    logger,
    indexNamespaces: options.namespaceIndex,
  };
  return RedisStore.open(client, storeOptions, options.startupWaitMs);
}

/** Prometheus metrics, and OpenTelemetry's too when asked for. */
function cacheObserverOf(store: CacheStore, metrics: ResolvedCacheMetricsOptions): CacheObserver {
  if (!metrics.enabled) return observeWith([]);
  const observers: CacheObserver[] = [new PrometheusCacheMetrics(metrics.registry, metrics.prefix)];
  const provider = metrics.meterProvider;
  if (provider) {
    if (OpenTelemetryCacheMetrics.recordsNothing(provider)) {
      new Logger(REDIS_CACHE_LOGGER_CONTEXT).warn(
        'metrics.openTelemetry is on, but no OpenTelemetry MeterProvider is registered: start the OpenTelemetry SDK before the app is created, or pass { meterProvider }.',
      );
    }
    const client = store instanceof RedisStore ? store.client : null;
    observers.push(new OpenTelemetryCacheMetrics(provider, databaseAttributes(client)));
  }
  return observeWith(observers);
}

const providers: Provider[] = [
  {
    provide: RESOLVED_REDIS_CACHE_OPTIONS,
    inject: [REDIS_CACHE_MODULE_OPTIONS],
    useFactory: (options: RedisCacheModuleOptions) => resolveRedisCacheOptions(options),
  },
  {
    provide: REDIS_CACHE_STORE,
    inject: [RESOLVED_REDIS_CACHE_OPTIONS],
    useFactory: createStore,
  },
  {
    provide: RedisCache,
    inject: [REDIS_CACHE_STORE, RESOLVED_REDIS_CACHE_OPTIONS],
    useFactory: (store: CacheStore, options: ResolvedRedisCacheOptions) =>
      new RedisCache(store, options, {
        observer: cacheObserverOf(store, options.metrics),
        stampedeObserver: options.metrics.enabled
          ? new PrometheusStampedeMetrics(options.metrics.registry, options.metrics.prefix)
          : undefined,
        tracer: new CacheTracer(options.tracing, store.kind),
      }),
  },
  { provide: CacheJobs, inject: [RedisCache], useFactory: (cache: RedisCache) => cache.jobs },
  {
    provide: REDIS_CACHE_CLIENT,
    inject: [REDIS_CACHE_STORE],
    useFactory: (store: CacheStore) => (store instanceof RedisStore ? store.client : null),
  },
  {
    provide: REDIS_CACHE_KEY_COUNTS,
    inject: [REDIS_CACHE_STORE, RESOLVED_REDIS_CACHE_OPTIONS],
    useFactory: (store: CacheStore, { metrics }: ResolvedRedisCacheOptions) =>
      metrics.enabled && metrics.keyCountIntervalMs > 0
        ? new KeyCountRefresher(
            store,
            {
              registry: metrics.registry,
              prefix: metrics.prefix,
              apps: metrics.apps,
              intervalMs: metrics.keyCountIntervalMs,
              samples: metrics.keyCountSamples,
            },
            new Logger(REDIS_CACHE_LOGGER_CONTEXT),
          )
        : null,
  },
  {
    provide: REDIS_CACHE_BACKEND_UP,
    inject: [REDIS_CACHE_STORE, RESOLVED_REDIS_CACHE_OPTIONS],
    useFactory: (store: CacheStore, { metrics }: ResolvedRedisCacheOptions) =>
      metrics.enabled ? reportBackendUp(metrics.registry, metrics.prefix, store) : () => undefined,
  },
  {
    provide: REDIS_CACHE_REQUEST_METRICS,
    inject: [RESOLVED_REDIS_CACHE_OPTIONS],
    useFactory: ({ metrics }: ResolvedRedisCacheOptions) =>
      metrics.enabled ? new CacheRequestMetrics(metrics.registry, metrics.prefix) : null,
  },
  {
    provide: RequestCacheResolver,
    inject: [RedisCache, RESOLVED_REDIS_CACHE_OPTIONS, REDIS_CACHE_REQUEST_METRICS],
    useFactory: (
      cache: RedisCache,
      options: ResolvedRedisCacheOptions,
      metrics: CacheRequestMetrics | null,
    ) => new RequestCacheResolver(cache, options, metrics),
  },
  CacheMetricsInterceptor,
  CacheRequestHooks,
];

/**
 * A Redis cache scoped per app and device, on one shared ioredis client.
 *
 * `RedisCacheModule.forRoot(options)` or `.forRootAsync({ imports, inject, useFactory | useClass |
 * useExisting })`; global unless `isGlobal: false`.
 */
@Module({
  imports: [DiscoveryModule],
  providers,
  exports: [
    RedisCache,
    ContextualCache,
    CacheJobs,
    REDIS_CACHE_CLIENT,
    RESOLVED_REDIS_CACHE_OPTIONS,
    RequestCacheResolver,
    CacheMetricsInterceptor,
    REDIS_CACHE_REQUEST_METRICS,
  ],
})
export class RedisCacheModule
  extends RedisCacheConfigurableModule
  implements NestModule, OnApplicationBootstrap, OnApplicationShutdown
{
  static override forRoot(options: typeof REDIS_CACHE_OPTIONS_TYPE): DynamicModule {
    return withContextualCache(super.forRoot(options), options);
  }

  static override forRootAsync(options: typeof REDIS_CACHE_ASYNC_OPTIONS_TYPE): DynamicModule {
    return withContextualCache(super.forRootAsync(options), options);
  }

  constructor(
    @Inject(RedisCache) private readonly redisCache: RedisCache,
    @Inject(CacheRequestHooks) private readonly requestHooks: CacheRequestHooks,
    @Inject(REDIS_CACHE_KEY_COUNTS) private readonly keyCounts: KeyCountRefresher | null,
    @Inject(REDIS_CACHE_BACKEND_UP) private readonly stopReportingBackend: () => void,
  ) {
    super();
  }

  /** Starts the background key counts once the app is up. */
  onApplicationBootstrap(): void {
    this.keyCounts?.start();
  }

  /**
   * Nest calls this once every singleton exists (so it is known whether anything injects
   * `ContextualCache`) and before it registers the routes, which the request hooks must precede.
   */
  configure(): void {
    this.requestHooks.install();
  }

  /** Closes the store last, so other providers may still use the cache while shutting down. */
  async onApplicationShutdown(): Promise<void> {
    await this.keyCounts?.stop();
    this.stopReportingBackend();
    await this.redisCache.close();
  }
}

/** Adds the `ContextualCache` provider that `requestScoped` asks for. */
function withContextualCache(
  module: DynamicModule,
  extras: Partial<RedisCacheModuleExtras>,
): DynamicModule {
  const { requestScoped, asyncLocalStorage } = { ...REDIS_CACHE_EXTRAS_DEFAULTS, ...extras };
  const provider = contextualCacheProvider({ requestScoped, asyncLocalStorage });
  return { ...module, providers: [...(module.providers ?? []), provider] };
}
