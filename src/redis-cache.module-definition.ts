import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { Provider } from '@nestjs/common';
import { CACHE_INJECTION_SETTINGS } from './redis-cache.constants';
import type { RedisCacheModuleOptions } from './redis-cache.interfaces';

/** Options of `forRoot`/`forRootAsync` that shape the module rather than the cache. */
export interface RedisCacheModuleExtras {
  /** Register the module globally, so every module can inject the cache. @default true */
  isGlobal: boolean;
  /** More providers for the module, e.g. ones the async `useFactory` injects. @default [] */
  extraProviders: Provider[];
  /**
   * Make the injected `ContextualCache` a true `Scope.REQUEST` provider. Every class that injects
   * it becomes request-scoped too, which costs throughput. @default false
   */
  requestScoped: boolean;
  /**
   * When the module enters the request context the injected `ContextualCache` reads. `'auto'`:
   * where some class injects it (or is request-scoped). `'always'`: for every request, for caches
   * looked up at run time (`moduleRef.resolve(ContextualCache)`); on Node 20 and 22 an active
   * AsyncLocalStorage slows every `await` in the process. @default 'auto'
   */
  asyncLocalStorage: 'auto' | 'always';
}

export const REDIS_CACHE_EXTRAS_DEFAULTS: RedisCacheModuleExtras = {
  isGlobal: true,
  extraProviders: [],
  requestScoped: false,
  asyncLocalStorage: 'auto',
};

/**
 * A leaf: `RedisCacheModule` extends the class built here and adds what depends on the request
 * context machinery (the `ContextualCache` provider).
 */
export const {
  ConfigurableModuleClass: RedisCacheConfigurableModule,
  MODULE_OPTIONS_TOKEN: REDIS_CACHE_MODULE_OPTIONS,
  OPTIONS_TYPE: REDIS_CACHE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: REDIS_CACHE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RedisCacheModuleOptions>({ moduleName: 'RedisCache' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createRedisCacheOptions')
  .setExtras<RedisCacheModuleExtras>(REDIS_CACHE_EXTRAS_DEFAULTS, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
    providers: [
      ...(definition.providers ?? []),
      {
        provide: CACHE_INJECTION_SETTINGS,
        useValue: {
          requestScoped: extras.requestScoped,
          asyncLocalStorage: extras.asyncLocalStorage,
        },
      },
      ...extras.extraProviders,
    ],
  }))
  .build();
