import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { Provider } from '@nestjs/common';
import { contextualCacheProviders } from './context/contextual-cache.providers';
import type { RedisCacheModuleOptions } from './redis-cache.interfaces';

/** Options of `forRoot`/`forRootAsync` that shape the module rather than the cache. */
export interface RedisCacheModuleExtras {
  /** Register the module globally, so every module can inject the cache. @default true */
  isGlobal: boolean;
  /** More providers for the module, e.g. ones the async `useFactory` injects. @default [] */
  extraProviders: Provider[];
  /**
   * Make the injected `ContextualCache` a true `Scope.REQUEST` provider. Every controller that
   * injects it becomes request-scoped too, which costs throughput. @default false
   */
  requestScoped: boolean;
  /**
   * How controllers that inject `ContextualCache` follow the request. `'auto'`: each handler runs
   * with a per-request view of its controller as `this`, whose cache properties are the request's
   * cache, and in an AsyncLocalStorage context only where that view cannot reach every use (see the
   * README). `'always'`: always the AsyncLocalStorage context (on Node 20 it slows every `await` in
   * the process once created). @default 'auto'
   */
  asyncLocalStorage: 'auto' | 'always';
}

export const {
  ConfigurableModuleClass: RedisCacheConfigurableModule,
  MODULE_OPTIONS_TOKEN: REDIS_CACHE_MODULE_OPTIONS,
  OPTIONS_TYPE: REDIS_CACHE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: REDIS_CACHE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RedisCacheModuleOptions>({ moduleName: 'RedisCache' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createRedisCacheOptions')
  .setExtras<RedisCacheModuleExtras>(
    { isGlobal: true, extraProviders: [], requestScoped: false, asyncLocalStorage: 'auto' },
    (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
      providers: [
        ...(definition.providers ?? []),
        ...contextualCacheProviders(extras),
        ...extras.extraProviders,
      ],
    }),
  )
  .build();
